/**
 * The appliance's side of Type=notify: READY=1 once (when k3s and every part are ready),
 * STATUS= whenever the summary changes, STOPPING=1 at shutdown. Failures to notify are logged
 * once and never stop the appliance.
 */
import type { Logger } from "../log/mod.ts";
import { sdNotify } from "./notify.ts";

export class SystemdNotifier {
  private sentReady = false;
  private lastStatus?: string;
  private warned = false;
  private readonly env: { get(k: string): string | undefined };

  constructor(env: Record<string, string | undefined>, private readonly log: Logger) {
    this.env = { get: (k) => env[k] };
  }

  private async send(state: string) {
    try {
      await sdNotify(state, this.env);
    } catch (e) {
      if (!this.warned) this.log.warn("cannot notify systemd", { error: (e as Error).message });
      this.warned = true;
    }
  }

  async status(text: string) {
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    await this.send(`STATUS=${text}`);
  }

  /** READY=1 the first time; later calls only update STATUS. */
  async ready(text: string) {
    if (this.sentReady) return this.status(text);
    this.sentReady = true;
    this.lastStatus = text;
    this.log.info("ready", { status: text });
    await this.send(`READY=1\nSTATUS=${text}`);
  }

  async stopping() {
    this.lastStatus = "stopping";
    await this.send("STOPPING=1\nSTATUS=stopping");
  }
}
