// The chat page in headless Chromium: node page_check.mjs URL SCREENSHOT_DIR
// Types a message, waits for the streamed reply to finish, takes screenshots
// (desktop and phone width), prints what it saw as JSON.
import { chromium } from "playwright-core";

const [url, dir] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--headless=new"] });
const out = {};
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0);
  out.models = await page.$$eval("#model option", (os) => os.map((o) => o.value));
  await page.$eval("#temp", (el) => { el.value = "0"; el.dispatchEvent(new Event("input")); });
  // the stop button shows while the reply streams: watched from before the
  // message is sent, so a reply faster than any polling is still seen
  await page.evaluate(() => {
    window.sawStop = false;
    const stop = document.querySelector("#stop");
    new MutationObserver(() => { if (!stop.hidden) window.sawStop = true; })
      .observe(stop, { attributes: true, attributeFilter: ["hidden"] });
  });
  await page.fill("#input", "Tell me a story");
  await page.press("#input", "Enter");
  await page.waitForSelector(".assistant .stats", { timeout: 60000 });
  out.saw_stop_button = await page.evaluate(() => window.sawStop);
  out.reply = await page.$eval(".assistant", (el) => { const c = el.cloneNode(true); c.querySelector(".stats").remove(); return c.innerText; });
  out.stats = await page.$eval(".assistant .stats", (el) => el.textContent);
  out.user = await page.$eval(".user", (el) => el.textContent);
  await page.screenshot({ path: `${dir}/chat-page.png`, fullPage: true });
  // the conversation is kept across a reload
  await page.reload();
  await page.waitForSelector(".assistant");
  out.kept = await page.$$eval(".msg", (ms) => ms.length);
  // phone width: nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 844 });
  out.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${dir}/chat-page-phone.png` });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
