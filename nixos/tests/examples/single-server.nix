# The specification's single-server example: SQLite, embedded PlasmaCloud services.
{
  mode = "server";
  datastore = "sqlite";
  networking = {
    serviceCIDR = "10.96.0.0/12";
    clusterCIDR = "10.244.0.0/16";
    clusterDomain = "cluster.local";
    advertiseAddress = "192.168.1.100";
    tlsSans = [ "k8s-api.example.com" ];
  };
  fiberlb.externalIpPool = "192.168.100.0/24";
  flashdns.recordTTL = 30;
}
