/**
 * The webhook part: TLS files and kubeconfig, the embedded IAM service (when no IAM endpoint is
 * configured), key sources, the review cache and the HTTPS server, started and stopped as one.
 */
import { join } from "node:path";
import type { PartContext } from "../appliance/context.ts";
import type { RunningServer } from "../grpc/mod.ts";
import type { Part } from "../part/mod.ts";
import { Authenticator } from "./authenticator.ts";
import { embeddedIamAddress, IamClient, iamClientFromConfig } from "./iam_client.ts";
import { EmbeddedIam, startEmbeddedIam } from "./iam_service.ts";
import { iamDir, type Issuer, loadIssuer } from "./issuer.ts";
import { collectCacheGauges, webhookMetrics } from "./metrics.ts";
import { type RunningWebhook, startWebhookServer } from "./server.ts";
import { buildVerifier, type BuiltVerifier } from "./setup.ts";
import { OpaqueTokenStore } from "./token_store.ts";
import { ensureWebhookFiles, parseListen } from "./webhook_files.ts";

export class WebhookPart implements Part {
  readonly name = "webhook";
  private state: true | string = "not started";
  private server?: RunningWebhook;
  private embedded?: RunningServer;
  private client?: IamClient;
  private built?: BuiltVerifier;
  authenticator?: Authenticator;

  constructor(private readonly ctx: PartContext) {}

  /** Where the embedded IAM service listens, when this part runs it. */
  get embeddedIamTarget(): string | undefined {
    return this.embedded?.target;
  }

  /** The bound port (useful with listen port 0). */
  get port(): number | undefined {
    return this.server?.port;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { config, log } = this.ctx;
    const iam = config.iam;
    try {
      this.state = "starting";
      const listen = parseListen(iam.webhook.listen);
      const metrics = webhookMetrics(this.ctx.metrics);
      const issuer = await loadIssuer(config);

      if (iam.opaque.enable) {
        if (iam.endpoint === "") {
          this.embedded = await this.startEmbedded(issuer);
          this.client = new IamClient({ endpoint: this.embedded.target, timeoutMs: iam.timeout });
        } else {
          this.client = await iamClientFromConfig(config);
        }
      }
      this.built = await buildVerifier(config, {
        log,
        issuer: iam.issuer.enable ? issuer : undefined,
        iam: this.client,
        jwksRefreshes: metrics.jwksRefreshes,
        iamCalls: metrics.iamCalls,
      });
      await this.built.start();
      if (signal.aborted) throw new Error("aborted while starting");

      this.authenticator = new Authenticator(this.built.verifier, {
        cacheSize: iam.cache.size,
        positiveTtlMs: iam.cache.positiveTTL,
        negativeTtlMs: iam.cache.negativeTTL,
      });
      collectCacheGauges(this.ctx.metrics, this.authenticator.cache);

      let files = await ensureWebhookFiles(config);
      this.server = await startWebhookServer({
        hostname: listen.hostname,
        port: listen.port,
        tls: files.tls,
        maxBodyBytes: iam.webhook.maxBodyBytes,
        requestTimeoutMs: iam.webhook.requestTimeout,
        authenticator: this.authenticator,
        log,
        metrics,
      });
      // With an ephemeral port the kubeconfig can only name the port once it is bound.
      if (listen.port === 0) files = await ensureWebhookFiles(config, this.server.port);
      this.state = true;
      log.info("IAM webhook serving", {
        port: this.server.port,
        tls: Boolean(files.tls),
        mtls: files.tls?.requireClientCert ?? false,
        issuers: this.built.verifier.issuers,
        opaque: iam.opaque.enable ? (iam.endpoint || this.embedded?.target) : "disabled",
        kubeconfig: files.kubeconfigPath,
      });
    } catch (err) {
      this.state = `failed: ${(err as Error).message}`;
      await this.stop();
      this.state = `failed: ${(err as Error).message}`;
      throw err;
    }
  }

  private async startEmbedded(issuer: Issuer): Promise<RunningServer> {
    const config = this.ctx.config;
    const address = embeddedIamAddress(config);
    const store = await OpaqueTokenStore.open(join(iamDir(config), "tokens.json"));
    const service = new EmbeddedIam({
      issuer,
      store,
      leewaySeconds: Math.round(config.iam.jwt.leeway / 1000),
      maxTtlSeconds: Math.round(config.iam.issuer.maxTTL / 1000),
      trustLocalCallers: address.startsWith("unix://"),
    });
    const running = await startEmbeddedIam(address, service);
    this.ctx.log.info("embedded IAM service serving", { address: running.target });
    return running;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
    this.built?.stop();
    this.built = undefined;
    this.client?.close();
    this.client = undefined;
    const embedded = this.embedded;
    this.embedded = undefined;
    await embedded?.stop();
    if (this.state === true || this.state === "starting") this.state = "stopped";
  }

  ready(): true | string {
    return this.state;
  }
}
