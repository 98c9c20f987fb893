import { type Infer, obj } from "./schema.ts";
import { coreFields } from "./sections/core.ts";
import { iamSection } from "./sections/iam.ts";
import { prismnetSection } from "./sections/prismnet.ts";
import { fiberlbSection } from "./sections/fiberlb.ts";
import { flashdnsSection } from "./sections/flashdns.ts";
import { lightningstorSection } from "./sections/lightningstor.ts";
import { tenancySection } from "./sections/tenancy.ts";

/** The whole configuration file, one section per integration. */
export const configSpec = obj("k8shost configuration", {
  ...coreFields,
  iam: iamSection,
  prismnet: prismnetSection,
  fiberlb: fiberlbSection,
  flashdns: flashdnsSection,
  lightningstor: lightningstorSection,
  tenancy: tenancySection,
});

export type Config = Infer<typeof configSpec>;
