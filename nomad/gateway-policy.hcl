# The Nomad ACL policy of the gateway's Nomad token: what the gateway's REST and MCP
# operations call, and nothing more.
#
#   nomad acl policy apply -description "nomad-gateway" nomad-gateway nomad/gateway-policy.hcl
#
# One namespace block per namespace the gateway serves (copy the block and change its
# label), or `namespace "*"` to serve all of them; requests for namespace "*" (lists and
# events across namespaces) see only the namespaces a block names. The capability names
# are Nomad's classic ones, valid from Nomad 1.x to 2.x (Nomad 2's finer capabilities such
# as plan-job and promote-deployment are each covered by submit-job).
namespace "default" {
  capabilities = [
    # List jobs (GET /v1/jobs); any capability makes the namespace visible in
    # GET /v1/namespaces.
    "list-jobs",
    # Read jobs, versions, summaries, allocations, evaluations, deployments, native
    # services (GET /v1/services, /v1/service/:name), allocations' check results, and the
    # Job, Allocation, Deployment and Evaluation topics of the event stream.
    "read-job",
    # Parse HCL2 submissions and plans (POST /v1/jobs/parse).
    "parse-job",
    # Register, plan, stop and purge, revert, force an evaluation, promote or fail a
    # deployment.
    "submit-job",
    # Dispatch parameterized jobs.
    "dispatch-job",
    # Change a group's count (POST /v1/job/:id/scale).
    "scale-job",
    # Tail task logs (GET /v1/client/fs/logs/:alloc). The gateway reads no other file
    # of an allocation, so no read-fs; it runs no commands, so no alloc-exec.
    "read-logs",
    # Restart, stop and signal allocations; read their resource usage (client stats).
    "alloc-lifecycle",
    # CSI volumes and dynamic host volumes (GET /v1/volumes, /v1/volume/csi/:id and
    # /v1/volume/host/:id), and scaling policies (GET /v1/scaling/policies and
    # /v1/scaling/policy/:id).
    "csi-list-volume",
    "csi-read-volume",
    "host-volume-read",
    "list-scaling-policies",
    "read-scaling-policy",
  ]

  # Nomad Variables (GET /v1/vars, GET, PUT and DELETE /v1/var/:path): the gateway lists
  # and reads them (values only for callers with variables:read), writes and deletes them
  # for callers with variables:write. Narrow the path glob (`path "app/*"`) to keep the
  # gateway away from other variables, such as those of nomad/jobs.
  variables {
    path "*" {
      capabilities = ["list", "read", "write", "destroy"]
    }
  }
}

# List and read nodes and their allocations, the Node topic of the event stream and the
# server members, node pools (node read); drain, eligibility, client metadata and purge
# (node write).
node {
  policy = "write"
}

# GET /v1/agent/self: the agent's version, region and whether ACLs are on.
agent {
  policy = "read"
}

# No operator, quota, plugin or host_volume rules: the leader and Raft peers
# (/v1/status/*) and the regions need no ACL. (The gateway job's own tasks read
# nomad/jobs/nomad-gateway through their workload identity, not through this token.)
