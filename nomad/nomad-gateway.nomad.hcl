# nomad-gateway on Nomad: a service job of `count` replicas behind one Nomad-native
# service, rolled out one canary at a time and reverted automatically when the canary
# does not become ready.
#
# Secrets never appear in this file or in the job's version history: the TLS certificate
# and key, the CA of Nomad's HTTPS API, the database URL and (optionally) the gateway's
# Nomad token live in the Nomad Variable `nomad/jobs/nomad-gateway`, which the job's
# tasks may read by default (workload identity), and templates render them into the
# task's secrets directory. nomad/README.md has the commands.
#
#   nomad job run -var 'image=registry.example.com/nomad-gateway:0.1.0' \
#     nomad/nomad-gateway.nomad.hcl

variable "image" {
  type        = string
  default     = "registry.example.com/nomad-gateway:0.1.0"
  description = "The gateway's container image, built from the project's Dockerfile."
}

variable "datacenters" {
  type        = list(string)
  default     = ["*"]
  description = "The datacenters to place the gateway in; [\"*\"] is every datacenter."
}

variable "namespace" {
  type        = string
  default     = "default"
  description = "The Nomad namespace the job runs in (the Variable must be in it too), and the gateway's default namespace for requests that name none."
}

variable "public_url" {
  type        = string
  default     = "https://nomad-gateway.example.com"
  description = "The URL clients reach the gateway at: the OAuth metadata and the links the gateway hands out use it."
}

variable "nomad_addr" {
  type        = string
  default     = "https://nomad.service.consul:4646"
  description = "The address of Nomad's HTTPS API, as the Nomad CLI's NOMAD_ADDR."
}

variable "count" {
  type        = number
  default     = 3
  description = "How many replicas to run. Several replicas need a shared Postgres database (database_url), not SQLite."
}

job "nomad-gateway" {
  type        = "service"
  namespace   = var.namespace
  datacenters = var.datacenters

  group "gateway" {
    count = var.count

    # Nomad removes the service registration this long before it signals the task, so
    # whoever routes by the Nomad service catalogue stops sending new work first.
    shutdown_delay = "5s"

    # No distinct_hosts constraint: Nomad's scheduler already scores against placing a
    # job's allocations together (job anti-affinity), and a hard constraint would leave
    # the canary of an update nowhere to go on a cluster with one node per replica.

    network {
      port "https" {
        to = 8443
      }
    }

    # One new allocation at a time, a canary first: it must pass its /readyz check for
    # 10 s within 3 min, then the rest follow; a canary that never gets ready fails the
    # deployment and Nomad reverts to the last stable version.
    update {
      max_parallel     = 1
      canary           = 1
      auto_promote     = true
      auto_revert      = true
      health_check     = "checks"
      min_healthy_time = "10s"
      healthy_deadline = "3m"
    }

    # The allocation directory holds the audit spool (alloc/data): it survives a restart
    # of the task, and sticky + migrate carry it to the replacement allocation of a job
    # update or a drain, so events queued while the database was away are not lost.
    ephemeral_disk {
      size    = 300
      sticky  = true
      migrate = true
    }

    # A crashing task restarts in place a few times, then the allocation fails and the
    # scheduler places it again (on another node if need be).
    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "fail"
    }

    service {
      provider = "nomad"
      name     = "nomad-gateway"
      port     = "https"
      tags     = ["https", "mcp", "rest"]

      check {
        name     = "ready"
        type     = "http"
        protocol = "https"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
        # Nomad's checker dials the allocation's address and port, which the gateway's
        # certificate (issued for the public name) does not name, and it cannot be given
        # the private CA that signs it. The check decides readiness, not trust: nothing
        # secret crosses it, so verification is off for this check only; clients verify.
        tls_skip_verify = true
      }
    }

    task "gateway" {
      driver = "docker"

      config {
        image           = var.image
        ports           = ["https"]
        readonly_rootfs = true
        # /data (the image's working directory and volume) is the allocation's data
        # directory: a relative bind inside the allocation is allowed even when the
        # Docker driver's host volumes are disabled.
        volumes = ["../alloc/data:/data"]
      }

      # SIGTERM starts the drain: /readyz turns 503, new work is refused, open requests
      # and streams get GATEWAY_SHUTDOWN_TIMEOUT (20 s) to finish. Nomad waits 45 s
      # before SIGKILL, comfortably above the drain.
      kill_signal  = "SIGTERM"
      kill_timeout = "45s"

      # The task's workload identity in NOMAD_TOKEN. It reads the Variable below (any
      # task may read nomad/jobs/<its job>), and, when the Variable holds no nomad_token,
      # it is the gateway's Nomad token: attach gateway-policy.hcl to this job with
      # `nomad acl policy apply -namespace <ns> -job nomad-gateway ...` (README.md).
      identity {
        env = true
      }

      resources {
        cpu    = 500
        memory = 256
      }

      env {
        GATEWAY_LISTEN           = "0.0.0.0:8443"
        GATEWAY_PUBLIC_URL       = var.public_url
        GATEWAY_AUTH             = "on"
        GATEWAY_TLS_CERT         = "${NOMAD_SECRETS_DIR}/tls.crt"
        GATEWAY_TLS_KEY          = "${NOMAD_SECRETS_DIR}/tls.key"
        GATEWAY_SHUTDOWN_TIMEOUT = "20s"
        GATEWAY_AUDIT_SPOOL      = "${NOMAD_ALLOC_DIR}/data/audit-spool"
        GATEWAY_LOG_FORMAT       = "json"
        GATEWAY_METRICS_PUBLIC   = "true"
        NOMAD_ADDR               = var.nomad_addr
        NOMAD_CACERT             = "${NOMAD_SECRETS_DIR}/nomad-ca.pem"
        NOMAD_NAMESPACE          = var.namespace
      }

      # The serving certificate and its key. A new value in the Variable re-renders them
      # and Nomad sends SIGHUP: the gateway loads the new pair for new connections and
      # keeps the open ones (a pair that does not load is logged, the old one stays).
      template {
        data          = <<-EOT
          {{ with nomadVar "nomad/jobs/nomad-gateway" }}{{ .tls_crt }}{{ end }}
        EOT
        destination   = "secrets/tls.crt"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }

      template {
        data          = <<-EOT
          {{ with nomadVar "nomad/jobs/nomad-gateway" }}{{ .tls_key }}{{ end }}
        EOT
        destination   = "secrets/tls.key"
        perms         = "0400"
        # The image's user (Dockerfile: USER 10001:10001) owns the key it must read.
        uid           = 10001
        gid           = 10001
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }

      # The CA of Nomad's HTTPS API. The gateway reads it when it starts, so a new CA
      # restarts the task (in every allocation, within the 5 s template splay).
      template {
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/nomad-gateway" }}{{ .nomad_ca }}{{ end }}
        EOT
        destination = "secrets/nomad-ca.pem"
        change_mode = "restart"
      }

      # The database URL and, if the Variable has one, the gateway's Nomad ACL token (it
      # then takes the place of the identity's NOMAD_TOKEN: template variables come
      # last in the task's environment). A change restarts the task.
      template {
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/nomad-gateway" -}}
          DATABASE_URL={{ .database_url }}
          {{ range .Tuples }}{{ if eq .K "nomad_token" }}NOMAD_TOKEN={{ .V }}
          {{ end }}{{ end -}}
          {{ end }}
        EOT
        destination = "secrets/gateway.env"
        perms       = "0400"
        env         = true
        change_mode = "restart"
      }
    }
  }
}
