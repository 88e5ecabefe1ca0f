// node scripts/browser_chat.mjs http://127.0.0.1:PORT
//
// Drives the chat example's page in headless Chromium (run by scripts/browser-chat.sh): alice
// joins through `?name=`, bob through the form; each must see the other's join, both must see
// every message (the sender included), markup a user types must stay text, and alice must see
// bob leave when his page closes. Every wait is bounded; exits non-zero on the first failure,
// after saving screenshots of both pages.

import { createRequire } from "node:module";
import path from "node:path";

const base = process.argv[2];
if (!base) {
  console.error("usage: node scripts/browser_chat.mjs http://127.0.0.1:PORT");
  process.exit(2);
}
const dir = path.resolve(process.env.PLAYWRIGHT_DIR ?? "target/browser-test");
const { chromium } = createRequire(path.join(dir, "package.json"))("playwright-core");
const TIMEOUT = 10_000;

// Lines of the message list, checked by exact text (and sender, for chat lines).
function waitForLine(page, kind, text, name = null) {
  return page.waitForFunction(
    ([kind, text, name]) =>
      [...document.querySelectorAll(`#messages li.${kind}`)].some(
        (li) =>
          li.querySelector(".text")?.textContent === text &&
          (name === null || li.querySelector(".name")?.textContent === name),
      ),
    [kind, text, name],
    { timeout: TIMEOUT },
  );
}

async function step(what, check) {
  try {
    await check();
  } catch (error) {
    throw new Error(`${what}: ${error.message}`);
  }
  console.log(`ok - ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  timeout: TIMEOUT,
  // Root in a container has no sandbox; the rest keeps Chromium off the (closed) network.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const pages = {};
const problems = [];
let failed = false;
try {
  // Two contexts: two independent users.
  for (const name of ["alice", "bob"]) {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
    page.on("dialog", (dialog) => {
      problems.push(`${name}: a dialog opened: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    pages[name] = page;
  }
  const { alice, bob } = pages;

  await step("alice joins through ?name= and sees her own join", async () => {
    await alice.goto(`${base}/?name=alice`);
    await waitForLine(alice, "join", "alice joined (1 online)");
    await alice.waitForFunction(
      () => document.getElementById("status").textContent === "You are alice.",
      null,
      { timeout: TIMEOUT },
    );
    if (!(await alice.locator("#join").isHidden())) throw new Error("the name form is still shown");
  });

  await step("the browser negotiated permessage-deflate", async () => {
    const extensions = await alice.evaluate(() => document.body.dataset.extensions);
    if (!/^permessage-deflate/.test(extensions || "")) {
      throw new Error(`negotiated extensions: ${JSON.stringify(extensions)}`);
    }
  });

  await step("bob joins through the form; alice and bob both see it", async () => {
    await bob.goto(`${base}/`);
    await bob.fill("#name", "bob");
    await bob.click("#join-button");
    await waitForLine(bob, "join", "bob joined (2 online)");
    await waitForLine(alice, "join", "bob joined (2 online)");
    if (!(await bob.locator("#join").isHidden())) throw new Error("the name form is still shown");
  });

  const hello = "hello bob, this is alice";
  await step("alice's message reaches bob and her own list", async () => {
    await alice.fill("#text", hello);
    await alice.click("#send-button");
    await waitForLine(bob, "message", hello, "alice");
    await waitForLine(alice, "message", hello, "alice");
    if ((await alice.inputValue("#text")) !== "") throw new Error("alice's input was not cleared");
  });

  // Over the chat's 256-byte compression threshold: sent compressed (once, as a prepared
  // message) to both browsers, which must inflate it.
  const long = "a long line that compresses well; ".repeat(14).trim();
  await step("a long message arrives intact through permessage-deflate", async () => {
    await alice.fill("#text", long);
    await alice.click("#send-button");
    await waitForLine(bob, "message", long, "alice");
    await waitForLine(alice, "message", long, "alice");
  });

  const markup = `<img src=x onerror="window.pwned=1"><b>bold</b>`;
  await step("bob's markup (sent with Enter) is text in both lists, never HTML", async () => {
    await bob.fill("#text", markup);
    await bob.press("#text", "Enter");
    await waitForLine(alice, "message", markup, "bob");
    await waitForLine(bob, "message", markup, "bob");
    for (const [name, page] of Object.entries(pages)) {
      const elements = await page.locator("#messages img, #messages b").count();
      const pwned = await page.evaluate(() => window.pwned);
      if (elements !== 0 || pwned !== undefined) {
        throw new Error(`${name}: user text became markup (${elements} elements, pwned=${pwned})`);
      }
    }
  });

  await step("bob closes his page; alice sees him leave", async () => {
    await bob.close();
    await waitForLine(alice, "leave", "bob left (1 online)");
  });

  if (problems.length) throw new Error(problems.join("\n"));
  const lines = await alice.locator("#messages li").allTextContents();
  console.log(`alice's list at the end:\n  ${lines.join("\n  ")}`);
  console.log("browser chat: all checks passed");
} catch (error) {
  failed = true;
  console.error(`not ok - ${error.message}`);
  for (const problem of problems) console.error(`  ${problem}`);
  for (const [name, page] of Object.entries(pages)) {
    if (page.isClosed()) continue;
    const file = path.join(dir, `failure-${name}.png`);
    await page.screenshot({ path: file, timeout: TIMEOUT }).catch(() => {});
    const lines = await page.locator("#messages li").allTextContents().catch(() => []);
    console.error(`  ${name}'s list: ${JSON.stringify(lines)} (screenshot: ${file})`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
