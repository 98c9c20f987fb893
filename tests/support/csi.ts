/** Shared by the CSI test files: one harness per test, closed whatever the test did. */
import { type Harness, type HarnessOptions, startHarness } from "../csi_harness.ts";

export async function withHarness(
  fn: (h: Harness) => Promise<void>,
  options: HarnessOptions = {},
): Promise<void> {
  const h = await startHarness(options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}
