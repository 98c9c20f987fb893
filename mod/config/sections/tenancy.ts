import { bool, duration, obj } from "../schema.ts";

export const tenancySection = obj("Namespace-per-project multi-tenancy.", {
  enable: bool("Run the Project controller and install its CRD.", true),
  deleteGrace: duration("Time between a Project's deletion and its namespace's removal.", "1h"),
  defaultNetworkPolicies: bool("Create the default deny-all-but-DNS NetworkPolicies.", true),
});
