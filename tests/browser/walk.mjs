// Walks the Ideabank portal in Debian's Chromium: several demo people take one idea through
// its life, the language is switched, tenant separation is checked, axe-core checks every
// main page, and screenshots are saved.
//
//   node tests/browser/walk.mjs <portal-url> [screenshot-dir]
//
// Prints one JSON line (prefixed "WALK-RESULT ") with what was reached and any failures;
// exits 1 when something failed.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const BASE = (process.argv[2] || "http://127.0.0.1:8000").replace(/\/$/, "");
const SHOTS = process.argv[3] || "test-artifacts/screenshots";
const EXECUTABLE = process.env.IDEABANK_CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = Number(process.env.IDEABANK_WALK_STEP_TIMEOUT || 30000);
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const failures = [];
const reached = [];
const axeReport = {};
const screenshots = [];
fs.mkdirSync(SHOTS, { recursive: true });

function fail(what, detail) {
  failures.push({ what, detail: String(detail).slice(0, 800) });
  console.error(`FAIL ${what}: ${detail}`);
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(file);
}

async function axe(page, name) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeReport[name] = { violations: result.length, serious: serious.length };
  if (serious.length) fail(`axe ${name}`, JSON.stringify(serious));
}

// A main page: check it with axe and keep a screenshot.
async function check(page, name) {
  await axe(page, name);
  await shot(page, name);
}

async function login(page, tenant, person) {
  await page.goto(`${BASE}/login?tenant=${tenant}`);
  await page.selectOption("#f-person", person);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("#login-submit")]);
  const who = await page.textContent('[data-testid="user-tenant"]');
  if (who.trim() !== tenant) throw new Error(`signed in to ${who}, expected ${tenant}`);
}

async function logout(page) {
  await Promise.all([page.waitForURL(/\/login/), page.click('form[action="/logout"] button')]);
}

// Reload the idea page until its status is one of `statuses` (events travel between services).
async function waitStatus(page, ideaUrl, statuses, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    await page.goto(ideaUrl);
    last = (await page.getAttribute('[data-testid="idea-status"]', "data-status")) || "";
    if (statuses.includes(last)) return last;
    await page.waitForTimeout(500);
  }
  throw new Error(`status stayed ${last}, expected ${statuses.join("|")}`);
}

// Reload until a selector shows up (a form appears once the owning service knows the idea).
async function waitFor(page, url, selector, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await page.goto(url);
    if (await page.locator(selector).count()) return;
    await page.waitForTimeout(500);
  }
  throw new Error(`${selector} did not appear on ${url}`);
}

async function submitForm(page, formSelector) {
  await Promise.all([page.waitForLoadState("load"), page.locator(`${formSelector} button[type=submit]`).last().click()]);
  await page.waitForLoadState("load");
  const error = page.locator('[data-testid="flash-error"]');
  if (await error.count()) throw new Error(await error.textContent());
}

function iso(daysFromToday) {
  const d = new Date(Date.now() + daysFromToday * 86400000);
  return d.toISOString().slice(0, 10);
}

async function step(name, fn) {
  try {
    await fn();
    reached.push(name);
    console.log(`ok   ${name}`);
    return true;
  } catch (err) {
    fail(`step ${name}`, err && err.message ? err.message : err);
    return false;
  }
}

const browser = await chromium.launch({
  executablePath: EXECUTABLE,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "sv-SE" });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);

const stamp = Date.now().toString(36);
const title = `Gemensam nyckelbox för hemtjänsten ${stamp}`;
let ideaUrl = "";
let ideaId = "";

try {
  // 1. An employee of Borås shares an idea; a second, similar one gets duplicate hints.
  const up = await step("sign-in page", async () => {
    await page.goto(`${BASE}/login?tenant=boras`);
    await check(page, "01-login");
  });
  if (!up) throw new Error(`the portal at ${BASE} does not answer`);
  await step("employee submits idea", async () => {
    await login(page, "boras", "boras-p009");
    await check(page, "02-home-employee");
    await page.goto(`${BASE}/ideas/new`);
    await page.fill("#f-title", title);
    await page.fill("#f-description", "En nyckelbox med kodlås vid varje hemtjänstgrupp så att nycklar inte behöver hämtas på kontoret.");
    await page.fill("#f-problem", "Vi lägger mycket tid på att hämta och lämna nycklar till brukarnas hem varje dag.");
    await page.selectOption("#f-org_unit_id", "boras-hemtjanst-norr");
    await check(page, "03-idea-new");
    await Promise.all([page.waitForURL(/\/ideas\/[^/]+$/), page.click("#idea-form button[type=submit]")]);
    ideaUrl = page.url();
    ideaId = ideaUrl.split("/").pop();
    await page.waitForSelector('[data-testid="flash-ok"]');
  });
  await step("duplicate hints", async () => {
    await page.goto(`${BASE}/ideas/new`);
    await page.fill("#f-title", `Nyckelbox med kodlås för hemtjänsten ${stamp}`);
    await page.fill("#f-description", "Nyckelbox med kodlås vid hemtjänstgruppen så att nycklar inte hämtas på kontoret.");
    await page.fill("#f-problem", "Tid går åt till att hämta nycklar till brukarnas hem.");
    await page.selectOption("#f-org_unit_id", "boras-hemtjanst-norr");
    await Promise.all([page.waitForURL(/\/ideas\/[^/]+$/), page.click("#idea-form button[type=submit]")]);
    await page.waitForSelector('[data-testid="duplicates"]');
    await check(page, "04-idea-duplicates");
    // The idea giver withdraws the duplicate.
    await page.click("#withdraw summary");
    await page.fill("#withdraw textarea", "Dubblett av min tidigare idé.");
    await submitForm(page, "#withdraw form");
    await waitStatus(page, page.url(), ["withdrawn"]);
  });
  await step("my ideas", async () => {
    await page.goto(`${BASE}/ideas?mine=1`);
    if (!(await page.locator(`a[href="/ideas/${ideaId}"]`).count())) throw new Error("idea missing from my ideas");
    await check(page, "05-my-ideas");
  });
  await step("colleague comments and supports", async () => {
    await logout(page);
    await login(page, "boras", "boras-p010");
    await page.goto(`${BASE}/ideas`);
    await check(page, "06-browse");
    await page.goto(ideaUrl);
    await page.fill("#f-body", "Bra idé! Vi har samma problem i vår grupp.");
    await submitForm(page, "form#comments");
    await submitForm(page, "form.support");
    await page.waitForSelector("ul.comments li");
  });

  // 2. The ambassador screens the idea with the template.
  let ok = await step("ambassador screens", async () => {
    await logout(page);
    await login(page, "boras", "boras-p003");
    await waitStatus(page, ideaUrl, ["in_screening"]);
    await waitFor(page, `${BASE}/screening`, `a[href="/ideas/${ideaId}"]`);
    await check(page, "07-screening-queue");
    await waitFor(page, ideaUrl, "form#screening fieldset.criterion");
    for (const group of await page.locator("form#screening fieldset.criterion").all()) {
      await group.locator("label", { hasText: "4" }).first().click();
    }
    await page.check("#o-in_development");
    await page.fill("form#screening #f-motivation", "Lovande idé som berör hela hemtjänsten. Vi utvecklar den tillsammans.");
    await check(page, "08-screening-form");
    await submitForm(page, "form#screening");
    await waitStatus(page, ideaUrl, ["in_development"]);
  });
  ok = ok && (await step("decision basis", async () => {
    await waitFor(page, ideaUrl, "form#decision-basis");
    await page.fill("form#decision-basis #f-estimated_cost", "12000");
    await page.fill("form#decision-basis #f-estimated_effort_hours", "40");
    await page.fill("form#decision-basis #f-effects_short_term", "Mindre tid på nyckelhämtning redan första månaden.");
    await page.fill("form#decision-basis #f-effects_long_term", "Mer tid hos brukarna och färre missade besök.");
    await submitForm(page, "form#decision-basis");
    await waitStatus(page, ideaUrl, ["awaiting_decision"]);
  }));

  // 3. The management group approves and names an implementer.
  ok = ok && (await step("management decides", async () => {
    await logout(page);
    await login(page, "boras", "boras-p001");
    await waitFor(page, `${BASE}/decisions`, `a[href="/ideas/${ideaId}"]`);
    await check(page, "09-decision-queue");
    await waitFor(page, ideaUrl, "form#decision");
    await page.check("#d-approved");
    await page.selectOption("form#decision #f-kind", "project");
    await page.fill("form#decision #f-implementer_id", "boras-p002");
    await page.fill("form#decision #f-motivation", "Godkänns som projekt under hösten.");
    await check(page, "10-decision-form");
    await submitForm(page, "form#decision");
    await waitStatus(page, ideaUrl, ["approved", "in_implementation"]);
  }));

  // 4. The implementer plans, runs a trial, measures, reports implemented and evaluates.
  ok = ok && (await step("implementer plans", async () => {
    await logout(page);
    await login(page, "boras", "boras-p002");
    await waitFor(page, ideaUrl, "form#plan");
    await page.fill("#mt-1", "Nyckelboxar monterade i Hemtjänst Norr");
    await page.fill("#md-1", iso(14));
    await page.fill("#mt-2", "Utvärdering med gruppen");
    await page.fill("#md-2", iso(45));
    await submitForm(page, "form#plan");
    await waitStatus(page, ideaUrl, ["in_implementation"]);
  }));
  ok = ok && (await step("trial and indicator", async () => {
    await waitFor(page, ideaUrl, "form#trials");
    await page.fill("form#trials #f-hypothesis", "Med nyckelbox sparar varje medarbetare 20 minuter per dag.");
    await page.fill("form#trials #f-start", iso(-30));
    await page.fill("form#trials #f-end", iso(-10));
    await page.fill("form#trials #f-result", "I snitt 22 minuter sparade per dag.");
    await page.selectOption("form#trials #f-verdict", "adopt");
    await submitForm(page, "form#trials");
    await waitFor(page, ideaUrl, "form#indicators");
    await page.fill("form#indicators #f-name", "Tid för nyckelhämtning per dag");
    await page.fill("form#indicators #f-unit", "minuter");
    await page.fill("form#indicators #f-baseline", "35");
    await page.fill("form#indicators #f-target", "10");
    await page.selectOption("form#indicators #f-direction", "decrease");
    await submitForm(page, "form#indicators");
    const values = [["28", -60], ["18", -30], ["12", -1]];
    for (const [value, days] of values) {
      await waitFor(page, ideaUrl, "form#measurements");
      await page.fill("form#measurements #f-value", value);
      await page.fill("form#measurements #f-measured_at", iso(days));
      await page.fill("form#measurements #f-corrective_action", "Påminnelse till gruppen om att använda boxen.");
      await submitForm(page, "form#measurements");
    }
    await page.goto(ideaUrl);
    await page.waitForSelector("figure.chartbox svg");
    await check(page, "11-implementation");
  }));
  ok = ok && (await step("implemented and evaluated", async () => {
    await waitFor(page, ideaUrl, "form#implemented");
    await page.fill("form#implemented #f-summary", "Nyckelboxar finns nu i alla grupper i Hemtjänst Norr.");
    await submitForm(page, "form#implemented");
    await waitStatus(page, ideaUrl, ["implemented"]);
    await waitFor(page, ideaUrl, "form#evaluation");
    await page.fill("form#evaluation #f-realised_benefit", "85000");
    await page.fill("form#evaluation #f-hours", "600");
    await page.fill("form#evaluation #f-lessons_learned", "Involvera nyckelansvariga tidigt; kodbyte varje kvartal.");
    await submitForm(page, "form#evaluation");
    await waitStatus(page, ideaUrl, ["evaluated"]);
  }));
  ok = ok && (await step("offered to the network", async () => {
    await waitFor(page, ideaUrl, "form#offer");
    await submitForm(page, "form#offer");
    await waitStatus(page, ideaUrl, ["spread"]);
  }));

  // 5. The communicator approves the announcement to all staff.
  await step("communicator approves announcement", async () => {
    await logout(page);
    await login(page, "boras", "boras-p005");
    await waitFor(page, `${BASE}/announcements`, "form[action^='/announcements/']");
    await check(page, "12-announcements");
    await submitForm(page, "form[action^='/announcements/']");
  });

  // 6. The idea giver follows the idea: timeline with feedback and motivations.
  await step("idea giver sees timeline", async () => {
    await logout(page);
    await login(page, "boras", "boras-p009");
    const deadline = Date.now() + STEP_TIMEOUT;
    let count = 0;
    while (Date.now() < deadline) {
      await page.goto(ideaUrl);
      count = await page.locator('[data-testid="timeline"] li').count();
      if (count >= 3 && (await page.locator('[data-testid="timeline"] blockquote').count())) break;
      await page.waitForTimeout(500);
    }
    if (count < 3) throw new Error(`timeline has ${count} entries`);
    await check(page, "13-idea-timeline");
    // The inbox: feedback arrives through notification, a moment after the events.
    let unread = 0;
    for (const until = Date.now() + STEP_TIMEOUT; Date.now() < until; await page.waitForTimeout(500)) {
      await page.goto(`${BASE}/inbox`);
      unread = await page.locator('[data-testid="mark-read"]').count();
      if (unread) break;
    }
    await check(page, "14-inbox");
    if (!unread) throw new Error("no unread feedback in the idea giver's inbox");
    // Mark one item read: its button is gone afterwards.
    const first = page.locator('form[action^="/inbox/"][action$="/read"]').first();
    const action = await first.getAttribute("action");
    await submitForm(page, `form[action="${action}"]`);
    await page.goto(`${BASE}/inbox`);
    if (await page.locator(`form[action="${action}"]`).count()) throw new Error(`${action} still unread`);
    // Delivery preferences: email as a weekly digest, kept after a reload.
    await page.selectOption("#f-pref-email", "weekly");
    await submitForm(page, 'form[action="/inbox/preferences"]');
    await page.goto(`${BASE}/inbox`);
    const mode = await page.inputValue("#f-pref-email");
    if (mode !== "weekly") throw new Error(`email preference is ${mode} after saving weekly`);
  });

  // 7. Languages: English, Norwegian bokmål, Danish and back to Swedish.
  await step("language switch", async () => {
    await page.goto(`${BASE}/`);
    const expected = { en: "Share an idea", nb: "Del en idé", da: "Del en idé", sv: "Lämna en idé" };
    for (const lang of ["en", "nb", "da", "sv"]) {
      await Promise.all([page.waitForLoadState("load"), page.click(`form.langs button[value="${lang}"]`)]);
      await page.waitForSelector(`html[lang="${lang}"]`, { state: "attached" });
      const cta = await page.textContent(".hero a.button");
      if (cta.trim() !== expected[lang]) throw new Error(`${lang}: call to action reads "${cta.trim()}"`);
      if (lang === "en") await check(page, "15-home-english");
    }
  });

  // 8. Phone-sized screen: nothing wider than 360 px.
  await step("responsive 360px", async () => {
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2 });
    await phone.addCookies(await context.cookies());
    const p = await phone.newPage();
    for (const [url, name] of [[`${BASE}/`, "16-phone-home"], [ideaUrl, "17-phone-idea"], [`${BASE}/ideas/new`, "18-phone-new"]]) {
      await p.goto(url);
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      if (width > 361) fail(`responsive ${name}`, `page is ${width}px wide`);
      await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
      screenshots.push(path.join(SHOTS, `${name}.png`));
    }
    await phone.close();
  });

  // 9. Tenant separation: a person of Motala never sees the Borås idea.
  await step("tenant separation", async () => {
    await logout(page);
    await login(page, "motala", "motala-p009");
    await page.goto(`${BASE}/ideas`);
    const body = await page.textContent("main");
    if (body.includes(stamp)) throw new Error("a Borås idea is listed for Motala");
    if (await page.locator(`a[href="/ideas/${ideaId}"]`).count()) throw new Error("link to Borås idea");
    const resp = await page.goto(ideaUrl);
    if (resp.status() !== 404) throw new Error(`Borås idea answered ${resp.status()} to Motala`);
    if ((await page.textContent("main")).includes(stamp)) throw new Error("Borås idea text shown");
    await check(page, "19-other-tenant-404");
  });

  // 9b. Another municipality of the network adopts the idea as its own (after the
  // separation check: the adopted copy carries the same title in Motala).
  if (ok) await step("another municipality adopts", async () => {
    await logout(page);
    await login(page, "motala", "motala-p001");
    const card = page.locator('[data-testid="offers"] li', { hasText: title });
    for (const until = Date.now() + STEP_TIMEOUT; Date.now() < until; await page.waitForTimeout(500)) {
      await page.goto(`${BASE}/offers`);
      if (await card.count()) break;
    }
    await check(page, "26-offers");
    if (!(await card.count())) throw new Error("the offered idea is not among Motala's offers");
    await Promise.all([page.waitForLoadState("load"), card.locator('[data-testid="adopt"]').click()]);
    await page.waitForSelector('[data-testid="flash-ok"]');
    // Intake turns the adoption into a Motala idea of its own.
    let adopted = false;
    for (const until = Date.now() + STEP_TIMEOUT; Date.now() < until && !adopted; await page.waitForTimeout(500)) {
      await page.goto(`${BASE}/ideas`);
      adopted = (await page.textContent("main")).includes(stamp);
    }
    if (!adopted) throw new Error("the adopted idea is not listed in Motala");
    if (await page.locator(`a[href="/ideas/${ideaId}"]`).count()) throw new Error("Motala links to the Borås idea itself");
  });

  // 10. Administration, KPIs, network comparison, board report.
  await step("admin pages", async () => {
    await logout(page);
    await login(page, "boras", "boras-p070");
    for (const [url, name] of [["/admin", "20-admin"], ["/kpis", "21-kpis"], ["/network", "22-network"], ["/board-report", "23-board-report"]]) {
      const resp = await page.goto(`${BASE}${url}`);
      if (resp.status() >= 500) throw new Error(`${url} answered ${resp.status()}`);
      await check(page, name);
    }
    const report = await page.request.get(`${BASE}/board-report/download?format=html&start=${iso(-365)}&end=${iso(1)}`);
    if (report.status() !== 200) throw new Error(`board report answered ${report.status()}`);
  });
  await step("network coordinator", async () => {
    await logout(page);
    await login(page, "boras", "boras-p071");
    await page.goto(`${BASE}/network`);
    await page.waitForSelector('[data-testid="comparison"]');
  });

  // 11. The public channel for residents, without signing in.
  await step("public channel", async () => {
    await logout(page);
    await page.goto(`${BASE}/public`);
    await check(page, "24-public-choose");
    await page.click('a[href="/public/boras"]');
    await page.fill("#f-title", `Fler bänkar längs Viskan ${stamp}`);
    await page.fill("#f-description", "Det behövs fler bänkar att vila på längs promenadstråket vid Viskan.");
    await page.fill("#f-problem", "Äldre orkar inte gå hela sträckan utan att vila.");
    await check(page, "25-public-form");
    await Promise.all([page.waitForLoadState("load"), page.click("form.stack button[type=submit]")]);
    await page.waitForSelector('[data-testid="flash-ok"]');
  });
} catch (err) {
  fail("walk", err && err.message ? err.message : err);
} finally {
  await browser.close();
}

const result = { reached, failures, axe: axeReport, screenshots: screenshots.length, idea: ideaId };
console.log(`WALK-RESULT ${JSON.stringify(result)}`);
process.exit(failures.length ? 1 : 0);
