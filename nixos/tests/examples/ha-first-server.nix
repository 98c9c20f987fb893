# First server of an HA cluster with every integration pointing at PlasmaCloud services.
{
  mode = "server";
  datastore = "etcd";
  clusterInit = true;
  tokenFile = "/run/keys/k8shost-token";
  networking.tlsSans = [ "k8s-api-lb.example.com" "k8s-api.example.com" ];
  prismnet = {
    endpoint = "prismnet-server:5000";
    caFile = "/etc/plasmacloud/ca.crt";
    tokenFile = "/run/keys/prismnet-token";
    ovn = { northbound = "tcp:prismnet-server:6641"; southbound = "tcp:prismnet-server:6642"; };
  };
  fiberlb = { endpoint = "fiberlb-server:7000"; caFile = "/etc/plasmacloud/ca.crt"; externalIpPool = "192.168.100.0/24"; };
  iam = {
    endpoint = "iam-server:3000";
    caFile = "/etc/plasmacloud/ca.crt";
    jwt.jwksUrl = "https://iam-server:3000/.well-known/jwks.json";
    webhook.requireClientCert = true;
  };
  flashdns = { endpoint = "flashdns-server:6000"; caFile = "/etc/plasmacloud/ca.crt"; recordTTL = 30; };
  lightningstor = { endpoint = "lightningstor-server:8000"; caFile = "/etc/plasmacloud/ca.crt"; };
}
