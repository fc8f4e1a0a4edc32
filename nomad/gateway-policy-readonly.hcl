# The Nomad ACL policy of a read-only gateway (GATEWAY_READ_ONLY=true): it refuses every
# write itself, and its Nomad token could not make one either.
#
#   nomad acl policy apply -description "nomad-gateway, read-only" \
#     nomad-gateway-readonly nomad/gateway-policy-readonly.hcl
#
# One namespace block per namespace the gateway serves, or `namespace "*"`.
namespace "default" {
  capabilities = [
    # Jobs, versions, allocations, evaluations, deployments and their event topics,
    # native services and allocations' check results.
    "list-jobs",
    "read-job",
    # Parse HCL2 for plans.
    "parse-job",
    # Plans change nothing, and a read-only gateway still answers them. plan-job is
    # Nomad 2.0's capability for planning without registering; on Nomad 1.x delete this
    # line (the policy would not apply) and plans are refused by Nomad (403).
    "plan-job",
    # Task logs.
    "read-logs",
    # CSI volumes, dynamic host volumes and scaling policies.
    "csi-list-volume",
    "csi-read-volume",
    "host-volume-read",
    "list-scaling-policies",
    "read-scaling-policy",
  ]

  # Nomad Variables: listed, and read (values only for callers with variables:read).
  variables {
    path "*" {
      capabilities = ["list", "read"]
    }
  }
}

# Nodes, their allocations, the Node event topic and the server members; no drains.
node {
  policy = "read"
}

# GET /v1/agent/self.
agent {
  policy = "read"
}
