# A small Postgres for trying the gateway on Nomad (several gateway replicas share one
# database; SQLite is for a single process). One allocation, its data in the allocation
# directory: it survives restarts and, with a sticky migrating disk, job updates and
# drains, but not the loss of the node. Use a managed or replicated Postgres for real.
#
# The password is the Nomad Variable nomad/jobs/nomad-gateway-postgres (item `password`),
# which this job's task reads through its workload identity:
#
#   nomad var put nomad/jobs/nomad-gateway-postgres password="$(openssl rand -hex 24)"
#   nomad job run nomad/postgres.nomad.hcl

variable "image" {
  type        = string
  default     = "postgres:16"
  description = "The Postgres image."
}

variable "datacenters" {
  type        = list(string)
  default     = ["*"]
  description = "The datacenters to place Postgres in."
}

variable "namespace" {
  type        = string
  default     = "default"
  description = "The Nomad namespace (the Variable must be in it too)."
}

job "nomad-gateway-postgres" {
  type        = "service"
  namespace   = var.namespace
  datacenters = var.datacenters

  group "postgres" {
    count = 1

    network {
      port "postgres" {
        to = 5432
      }
    }

    ephemeral_disk {
      size    = 2048
      sticky  = true
      migrate = true
    }

    service {
      provider = "nomad"
      name     = "nomad-gateway-postgres"
      port     = "postgres"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "postgres" {
      driver = "docker"

      config {
        image = var.image
        ports = ["postgres"]
      }

      # SIGINT is Postgres's fast shutdown (the image's own stop signal): open sessions
      # are ended, the data is flushed.
      kill_signal  = "SIGINT"
      kill_timeout = "30s"

      env {
        POSTGRES_USER = "gateway"
        POSTGRES_DB   = "gateway"
        PGDATA        = "${NOMAD_ALLOC_DIR}/data/pgdata"
      }

      template {
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/nomad-gateway-postgres" }}POSTGRES_PASSWORD={{ .password }}{{ end }}
        EOT
        destination = "secrets/postgres.env"
        perms       = "0400"
        env         = true
        change_mode = "restart"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
