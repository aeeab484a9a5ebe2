# shellcheck shell=bash
# The cluster's services: the one list the scripts source. The Rust side
# (testkit::cluster::SERVICES) is checked against it by a test of testkit.
# shellcheck disable=SC2034 # used by the scripts that source this one

# The five Rust binaries, in the order they start.
RUST_SERVICES=(migration btc_price create_buy_order read_model_sync fetch_buy_orders)
# The infrastructure of the compose cluster.
INFRASTRUCTURE_SERVICES=(write_model read_model queue log ingress)
# The images the HA cluster adds (docker-compose.ha.yml, services/ha/*).
HA_IMAGES=(etcd patroni)
