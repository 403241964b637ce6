// Shared by every page: the node's API, exact amounts (BigInt), keys and signing, live alerts.
// Money never becomes a JS number: amounts are BigInt base units, typed and shown as whole tokens.

export const WAD = 10n ** 18n;
export const MAX_HF = 2n ** 256n - 1n;
const SECONDS_PER_YEAR = 31536000;

// ---- the node's API -----------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || `http_${status}`;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// ---- amounts --------------------------------------------------------------------------------------

/** Whole tokens typed by a person -> base units, exactly; throws an Error saying why not. */
export function parseUnits(text, decimals, symbol = "") {
  const t = String(text).trim();
  if (t === "") throw new Error("enter an amount");
  if (!/^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$/.test(t)) {
    throw new Error(`"${t}" is not an amount: use digits and at most one decimal point (no signs, exponents or commas)`);
  }
  const [whole, frac = ""] = t.split(".");
  if (frac.length > decimals) {
    throw new Error(`${symbol || "this asset"} has ${decimals} decimals; "${t}" has ${frac.length}`);
  }
  return BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
}

/** Base units -> whole tokens, with thousands separators (unless `grouped` is false: a figure to
 * type back, which parseUnits reads) and at most `maxFrac` decimals (cut, not rounded). */
export function formatUnits(value, decimals, maxFrac = decimals, grouped = true) {
  let v = BigInt(value);
  const neg = v < 0n;
  if (neg) v = -v;
  const unit = 10n ** BigInt(decimals);
  const digits = (v / unit).toString();
  const whole = grouped ? digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",") : digits;
  let frac = (v % unit).toString().padStart(decimals, "0").slice(0, maxFrac).replace(/0+$/, "");
  const shown = whole + (frac ? "." + frac : "");
  return (neg && shown !== "0" ? "-" : "") + shown;
}

export const fmtUsd = (v) => "$" + formatUnits(v, 8, 2);
/** USD for totals in wide tables: whole dollars from $1,000 (as the CLI shows them), else cents. */
export const fmtUsdTotal = (v) => (BigInt(v) >= 100_000_000_000n ? "$" + formatUnits(v, 8, 0) : fmtUsd(v));

/** A pool's name for people: "Core-Pool" or "Mini-Pool N" (the API says "core" or the id). */
export function poolName(pool) { return String(pool) === "core" ? "Core-Pool" : `Mini-Pool ${pool}`; }

/** The pool's name inside a sentence: "the Core-Pool", but "Mini-Pool 0" (no article). */
export function inPool(pool) { return String(pool) === "core" ? "the Core-Pool" : poolName(pool); }

/** A block time (Unix seconds) for people: "2026-12-04 03:12:22 UTC". */
export const fmtTime = (unix) => new Date(Number(unix) * 1000).toISOString().slice(0, 19).replace("T", " ") + " UTC";

/** A wad health factor for people: 2 decimals (cut), "∞" without debt. */
const HF_SHOWN_MAX = 1000n;

/** A health factor (wad) to two decimals; "∞ (no debt)" without debt, and "above 1,000" for
 * the huge figures a dust debt gives (170,114,942.52 said nothing a person can use). */
export function fmtHf(hf) {
  const v = BigInt(hf);
  if (v === MAX_HF) return "∞ (no debt)";
  return v > HF_SHOWN_MAX * WAD ? `above ${HF_SHOWN_MAX.toLocaleString("en-US")}` : formatUnits(v, 18, 2);
}

/** A ray rate or ratio as a percentage with 2 decimals (cut). */
export function fmtPct(ray) {
  const v = BigInt(ray);
  const shown = formatUnits(v * 100n, 27, 2);
  return (shown === "0" && v > 0n ? "< 0.01" : shown) + " %";
}
export const fmtBps = (bps) => formatUnits(BigInt(bps), 2, 2) + " %";

/** A ray rate as a float fraction per year: display figures only (APYs, net APY). */
const rayFloat = (ray) => Number(BigInt(ray) / 10n ** 18n) / 1e9;

/** Supply APY as a fraction: supply interest accrues linearly, so a year earns the rate itself. */
export const supplyApyValue = (ray) => rayFloat(ray);
/** Borrow APY as a fraction: debt compounds every second, (1 + r/S)^S - 1. A display figure (float). */
export const borrowApyValue = (ray) => Math.expm1(SECONDS_PER_YEAR * Math.log1p(rayFloat(ray) / SECONDS_PER_YEAR));

/** An APY (a fraction) as people compare them: always two decimals, "< 0.01 %" for less above 0. */
export function fmtApy(fraction) {
  return fraction > 0 && fraction < 0.00005 ? "< 0.01 %" : (fraction * 100).toFixed(2) + " %";
}
export const supplyApy = (ray) => fmtApy(supplyApyValue(ray));
export const borrowApy = (ray) => fmtApy(borrowApyValue(ray));

export const value = (amount, price, decimals) => (BigInt(amount) * BigInt(price)) / 10n ** BigInt(decimals);

// ---- keys and signing (WebCrypto Ed25519; the key stays in this browser) --------------------------

const KEY_FORMAT = "astera-key/1";
const STORE = "astera-key";
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

function subtle() {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Error("signing needs a secure context: open the node at http://127.0.0.1 or over https");
  }
  return crypto.subtle;
}

async function importSeed(seedHex) {
  const key = await subtle().importKey("pkcs8", new Uint8Array([...PKCS8_PREFIX, ...unhex(seedHex)]),
    { name: "Ed25519" }, true, ["sign"]);
  const jwk = await subtle().exportKey("jwk", key);
  return { key, address: hex(b64url(jwk.x)), seed: seedHex };
}

/** The key file `astera key` writes: {"format", "address", "private_key"} (hex seed). */
export async function keyFromFile(text) {
  let doc;
  try { doc = JSON.parse(text); } catch { throw new Error("not a key file: it is not JSON"); }
  if (!doc || doc.format !== KEY_FORMAT) throw new Error(`not an ${KEY_FORMAT} key file`);
  if (!/^[0-9a-f]{64}$/.test(doc.private_key || "")) throw new Error("the key file's private_key is not 64 hex digits");
  const k = await importSeed(doc.private_key);
  if (k.address !== doc.address) throw new Error("the key file's address does not match its private key");
  return k;
}

export const keyFile = (k) => JSON.stringify({ format: KEY_FORMAT, address: k.address, private_key: k.seed }, null, 1) + "\n";

export async function newKey() {
  return importSeed(hex(crypto.getRandomValues(new Uint8Array(32))));
}

export function saveKey(k) { localStorage.setItem(STORE, keyFile(k)); }
export function forgetKey() { localStorage.removeItem(STORE); }
export async function currentKey() {
  const text = localStorage.getItem(STORE);
  return text ? keyFromFile(text) : null;
}

/** Canonical JSON as the node signs it: sorted keys, no whitespace, ASCII only. */
export function canonical(v) {
  if (v === null || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error("only integers travel as JSON numbers");
    return String(v);
  }
  if (typeof v === "string") return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => canonical(k) + ":" + canonical(v[k])).join(",") + "}";
}

let chainId = null;
export async function status() {
  const s = await api("/status");
  chainId = s.chain_id;
  return s;
}

/** Sign {action, params} with key `k` at the sender's next nonce and submit it; the receipt. */
export async function send(k, action, params) {
  if (chainId === null) await status();
  const acct = await api(`/accounts/${k.address}`);
  const tx = { chain_id: chainId, sender: k.address, nonce: acct.next_nonce, action, params };
  const message = new TextEncoder().encode("astera-tx/1\n" + canonical(tx));
  const signature = hex(new Uint8Array(await subtle().sign("Ed25519", k.key, message)));
  return api("/txs", { method: "POST", body: { tx, signature } });
}

// ---- rendering helpers ------------------------------------------------------------------------------

/** Build an element: h("td", {class: "x"}, "text", child, ...). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function table(caption, headers, rows) {
  return h("table", {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => (x instanceof Node && x.tagName === "TH" ? x : h("th", { scope: "col" }, x))))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c)))))));
}

export const short = (addr) => addr.slice(0, 8) + "…" + addr.slice(-4);
export const content = () => document.getElementById("content");
export function show(...nodes) { content().replaceChildren(...nodes.filter((n) => n !== null && n !== undefined)); }
export function hfClass(hf) {
  const v = BigInt(hf);
  return v < WAD ? "bad" : v < 15n * WAD / 10n ? "warn" : "good";
}

// ---- live updates and alerts ---------------------------------------------------------------------------

const THRESHOLDS = "astera-alert-thresholds";
export function thresholds() {
  const saved = JSON.parse(localStorage.getItem(THRESHOLDS) || "null");
  return saved || { warn: "1.5", danger: "1.1", notify: false };
}
export function setThresholds(t) { localStorage.setItem(THRESHOLDS, JSON.stringify(t)); }

/** Show an alert; with a `key`, it replaces the alert shown under that key (one per subject, so
 * a health-factor alert states the current value). `notify` also raises a system notification
 * when the user asked for them. */
export function banner(kind, text, key = null, notify = true) {
  const box = document.getElementById("alerts");
  const b = h("div", { class: `banner ${kind}` }, h("span", {}, text),
    h("button", { type: "button", onclick: () => b.remove(), "aria-label": "Dismiss alert" }, "Dismiss"));
  const old = key === null ? null : box.querySelector(`[data-key="${key}"]`);
  if (key !== null) b.dataset.key = key;
  if (old) old.replaceWith(b); else box.append(b);
  const t = thresholds();
  if (notify && t.notify && "Notification" in window && Notification.permission === "granted") new Notification("Astera Lend", { body: text });
}

// The band each pool was in when last seen, kept for the browser session so that moving between
// pages does not repeat an alert.
const BANDS = "astera-alert-bands";
const lastBand = JSON.parse(sessionStorage.getItem(BANDS) || "{}");
function band(hf, t) {
  const v = BigInt(hf);
  if (v === MAX_HF) return 0;
  if (v < WAD) return 3;
  if (v < parseUnits(t.danger, 18)) return 2;
  if (v < parseUnits(t.warn, 18)) return 1;
  return 0;
}

/** Asset decimals by symbol, Mini-Pool tranches included, from a /markets answer. */
export function decimalsIn(m) {
  const d = Object.fromEntries(Object.entries(m.assets).map(([a, v]) => [a, v.decimals]));
  for (const p of m.mini_pools) for (const r of p.reserves) d[r.asset] = r.config.decimals;
  return (a) => d[a] ?? 0;
}

async function checkHealth(k, block) {
  for (const tx of block ? block.txs : []) {
    for (const ev of tx.events) {
      if (ev.event === "LiquidationCall" && ev.data.user === k.address) {
        const dec = decimalsIn(await api("/markets"));
        const d = ev.data;
        banner("", `You were liquidated in ${inPool(ev.pool)}: ${formatUnits(d.debt_to_cover, dec(d.debt), 6)} ${d.debt} of your debt ` +
          `repaid, ${formatUnits(d.liquidated_collateral, dec(d.collateral), 6)} ${d.collateral} of your collateral seized (block ${block.height}).`);
      }
    }
  }
  const acct = await api(`/accounts/${k.address}`);
  const t = thresholds();
  for (const [pool, v] of Object.entries(acct.pools)) {
    if (!v.health_factor) continue;
    const b = band(v.health_factor, t);
    const before = lastBand[pool] ?? 0;
    const key = `hf-${pool}`;
    const shown = document.querySelector(`#alerts [data-key="${key}"]`);
    if (b === 0) {
      shown?.remove();  // healthy again: the alert no longer holds
    } else if (b > before || shown) {
      // With no collateral left nothing can be liquidated: what remains is debt to repay.
      const bare = BigInt(v.total_collateral_usd) === 0n;
      const words = b < 3 ? `below ${b === 2 ? t.danger : t.warn}` : bare
        ? `below 1 with no collateral left: nothing more can be liquidated; repay the ${fmtUsd(v.total_debt_usd)} of debt`
        : "below 1: you can be liquidated";
      // A worse band raises the alert (and a notification); otherwise the one shown is kept current.
      banner(b >= 2 ? "" : "warn", `Your health factor in ${inPool(pool)} is ${fmtHf(v.health_factor)}, ${words}.`, key, b > before);
    }
    lastBand[pool] = b;
  }
  sessionStorage.setItem(BANDS, JSON.stringify(lastBand));
}

/** What the header says of a follower's leader (nothing on a leader): whom it follows and how
 * far behind it is, or, while the leader does not answer, since when and why (the follower
 * shows what it verified and cannot know how far behind it is). */
export function leaderWords(r) {
  if (r.role !== "follower") return "";
  if (r.leader_answers === false) {
    const since = new Date(r.leader_silent_since * 1000).toLocaleTimeString();
    return ` · the leader has not answered since ${since} (${r.leader_error}); showing what this node verified`;
  }
  const behind = r.behind_blocks ? `, ${r.behind_blocks} blocks behind` : "";
  return ` · following ${r.leader}${behind}`;
}

/** Start the page: render once, then re-render on every block from the node's event stream. A
 * follower's header also says every few seconds what its leader does (no block comes while the
 * leader is silent). */
export async function start(render) {
  const head = document.getElementById("head");
  const k = await currentKey().catch(() => null);
  const run = async (block) => {
    try {
      await render(block);
    } catch (e) {
      show(h("p", { class: "error" }, `Could not load: ${e.message}`));
    }
    if (k) await checkHealth(k, block).catch(() => {});
  };
  await run(null);
  const st = await status();
  let height = st.height;
  let replication = st.replication;
  let mode = "";
  const paint = () => {
    head.textContent = `block ${height}${mode}${leaderWords(replication)}`;
    head.classList.toggle("silent", replication.leader_answers === false);
  };
  paint();
  const es = new EventSource(`/stream?since=${st.height}`);
  let busy = Promise.resolve();
  es.addEventListener("block", (e) => {
    const block = JSON.parse(e.data);
    height = block.height;
    paint();
    busy = busy.then(() => run(block));
  });
  if (replication.role === "follower") {
    setInterval(async () => {
      const now = await api("/status").catch(() => null);
      if (now) {
        replication = now.replication;
        paint();
      }
    }, 5000);
  }
  // A refused stream (e.g. this client already holds the node's limit of open streams) is not
  // retried by the browser: fall back to asking for the head every few seconds.
  es.addEventListener("error", () => {
    if (es.readyState !== EventSource.CLOSED) return;
    mode = " (live updates off: polling)";
    paint();
    setInterval(async () => {
      const now = await api("/status").catch(() => null);
      if (now && now.height !== height) {
        height = now.height;
        mode = " (polling)";
        paint();
        busy = busy.then(() => run(null));
      }
    }, 5000);
  });
  window.asteraReady = true;
}
