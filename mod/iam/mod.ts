/**
 * IAM authentication for k8shost: the TokenReview webhook kube-apiserver calls for bearer
 * tokens, the embedded IAM service and issuer for standalone hosts, and the files k3s needs.
 *
 * Wiring (server mode):
 * - before starting k3s: `await ensureWebhookFiles(config)`, then pass
 *   `--authentication-token-webhook-config-file=${webhookKubeconfigPath(config)}`;
 * - parts: `createWebhookPart` (name "webhook").
 */
import type { PartFactory } from "../appliance/context.ts";
import { WebhookPart } from "./part.ts";

export { WebhookPart } from "./part.ts";
export { ensureWebhookFiles, webhookKubeconfigPath, webhookUrl } from "./webhook_files.ts";
export { embeddedIamAddress, IamClient, iamClientFromConfig } from "./iam_client.ts";
export { type Identity, type UserInfo, userInfoFor } from "./identity.ts";
export { WEBHOOK_PATH } from "./review.ts";

export const createWebhookPart: PartFactory = (ctx) => new WebhookPart(ctx);
