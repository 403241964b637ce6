// Your account: key, faucet, positions and health, actions with an exact preview, what-ifs,
// alerts, history, and operator actions for role keys.
import {
  api, h, show, table, start, send, status, currentKey, newKey, saveKey, forgetKey, keyFromFile, keyFile,
  parseUnits, formatUnits, fmtUsd, fmtHf, fmtPct, fmtBps, hfClass, thresholds, setThresholds, MAX_HF, WAD, decimalsIn, poolName, inPool,
  supplyApy, borrowApy, supplyApyValue, borrowApyValue, fmtApy, value,
} from "./app.js";
import { LIQUIDATION_HEADERS, liquidationRows } from "./liquidations.js";

let key = null;
let markets = null;
const byId = (id) => document.getElementById(id);
const say = (id, ...nodes) => byId(id).replaceChildren(...nodes);
const poolParam = (p) => (String(p) === "core" ? "core" : Number(p));
const pools = () => [markets.core, ...markets.mini_pools];
/** [pool, value] of an object keyed by pool, Core-Pool first (Object.entries puts the key "0" before "core"). */
const inPoolOrder = (byPool) => pools().map((p) => [String(p.pool), byPool[String(p.pool)]]).filter(([, v]) => v !== undefined);
const reserveOf = (pool, asset) => pools().find((p) => String(p.pool) === String(pool)).reserves.find((r) => r.asset === asset);
const decimalsOf = (pool, asset) => reserveOf(pool, asset).config.decimals;
/** The protocol's code of a refusal, as the node words it after the plain text: "(protocol code 9 NAME)". */
const protocolCode = (r) => (r.explanation && r.message.startsWith(r.explanation) ? r.message.slice(r.explanation.length).trim() : "");
const errorText = (e) => (e.body && e.body.error && e.body.error.explanation) || e.message;

// ---- key ----------------------------------------------------------------------------------------------

function keySection() {
  if (!key) {
    return h("section", { "aria-labelledby": "key-h" },
      h("h2", { id: "key-h" }, "Connect with a key"),
      h("p", {}, "Your private key stays in this browser (local storage); transactions are signed here. " +
        "The key file is the one ", h("code", {}, "astera key new"), " writes, so the CLI and this page can be one account."),
      h("form", { onsubmit: (e) => e.preventDefault() },
        h("button", { type: "button", id: "create-key", onclick: async () => { saveKey(await newKey()); location.reload(); } }, "Create a new key"),
        h("label", {}, "Import a key file", h("input", { type: "file", id: "import-key", accept: ".key,.json,application/json", onchange: importFile })),
      ),
      h("p", { id: "key-error", class: "error", role: "status" }));
  }
  const blob = URL.createObjectURL(new Blob([keyFile(key)], { type: "application/json" }));
  return h("section", { "aria-labelledby": "key-h" },
    h("h2", { id: "key-h" }, "Key"),
    h("p", {}, "Address: ", h("code", { id: "address" }, key.address)),
    h("p", {}, h("a", { href: blob, download: "astera.key", id: "export-key" }, "Export key file"), " · ",
      h("button", { type: "button", class: "secondary", onclick: () => { if (confirm("Forget this key? Export it first if you need it.")) { forgetKey(); location.reload(); } } }, "Forget key")));
}

async function importFile(e) {
  try {
    const k = await keyFromFile(await e.target.files[0].text());
    saveKey(k);
    location.reload();
  } catch (err) {
    say("key-error", `Import refused: ${err.message}`);
  }
}

// ---- faucet -----------------------------------------------------------------------------------------

function faucetSection(st) {
  if (!st.faucet) return null;
  const assets = Object.keys(markets.assets);
  return h("section", { "aria-labelledby": "faucet-h" },
    h("h2", { id: "faucet-h" }, "Faucet (test network)"),
    h("form", { id: "faucet-form", onsubmit: faucet },
      h("label", {}, "Asset", h("select", { id: "faucet-asset" }, assets.map((a) => h("option", { value: a }, a)))),
      h("label", {}, "Amount (whole tokens)", h("input", { id: "faucet-amount", inputmode: "decimal", value: "10", required: true })),
      h("button", { type: "submit" }, "Get test funds")),
    h("p", { id: "faucet-result", role: "status" }));
}

async function faucet(e) {
  e.preventDefault();
  const asset = byId("faucet-asset").value;
  try {
    const amount = parseUnits(byId("faucet-amount").value, markets.assets[asset].decimals, asset);
    await api("/faucet", { method: "POST", body: { address: key.address, asset, amount: amount.toString() } });
    say("faucet-result", `Received ${formatUnits(amount, markets.assets[asset].decimals)} ${asset}.`);
  } catch (err) {
    say("faucet-result", h("span", { class: "error" }, `Refused: ${errorText(err)}`));
  }
}

// ---- positions and health ------------------------------------------------------------------------------

function gauge(hf) {
  const v = BigInt(hf);
  const shown = v === MAX_HF ? 3 : Math.min(3, Number(v / 10n ** 14n) / 1e4);
  return h("div", { class: "gauge" },
    h("meter", { min: 0, max: 3, low: 1, high: 2, optimum: 3, value: shown, "aria-label": "Health factor" }),
    h("strong", { class: hfClass(hf), "data-testid": "hf", "data-wad": String(hf) }, fmtHf(hf)),
    h("span", { class: "muted" }, "below 1: liquidatable · keep above 2"));
}

/** Collateral on/off: previewed exactly first, so a switch the protocol would refuse is never signed. */
async function setCollateral(pool, asset, enabled) {
  const tx = { action: "set_collateral", params: { pool: poolParam(pool), asset, enabled } };
  try {
    const r = await api("/preview", { method: "POST", body: { sender: key.address, ...tx } });
    if (r.refused) throw new Error(r.refused.explanation || r.refused.message);
    // Turning collateral off with debt lowers the health factor: say how far before signing.
    const before = shownAccount && shownAccount.pools[pool];
    const after = r.account.pools[pool];
    if (!enabled && before && before.health_factor && BigInt(before.total_debt_usd) > 0n &&
      !confirm(`Stop using ${asset} as collateral in ${inPool(pool)}? Your health factor goes from ` +
        `${fmtHf(before.health_factor)} to ${fmtHf(after.health_factor)} and your borrowing power from ` +
        `${fmtUsd(before.borrowing_power_usd)} to ${fmtUsd(after.borrowing_power_usd)}.`)) return;
    await send(key, tx.action, tx.params);
  } catch (err) {
    say("positions-error", `Refused: ${errorText(err)}`);
  }
}

/** Where a wallet asset earns: each pool with a reserve of it, its supply APY and whether it
 * backs a borrow, with a button to supply it there when the wallet holds some. */
function earns(asset, held) {
  return pools().flatMap((p) => p.reserves.filter((r) => r.asset === asset).map((r) => h("div", {},
    `${poolName(p.pool)} ${supplyApy(r.liquidity_rate)}` +
    (BigInt(r.config.ltv) > 0n ? ` (collateral, LTV ${fmtBps(r.config.ltv)}) ` : " (not collateral) "),
    held ? actionButton("deposit", p.pool, asset) : null)));
}

/** A pool's net worth (exact USD) and net APY (a display figure): what the supplies earn less what
 * the debts cost, over supplied minus owed, as Aave's dashboard shows it. */
function netOf(pool, v) {
  let supplied = 0n, owed = 0n, earned = 0, paid = 0;
  for (const p of v.positions) {
    const r = reserveOf(pool, p.asset);
    if (r.price === null) return null;
    const s = value(p.supplied, r.price, p.decimals), d = value(p.debt, r.price, p.decimals);
    supplied += s; owed += d;
    earned += Number(s) * supplyApyValue(r.liquidity_rate);
    paid += Number(d) * borrowApyValue(r.variable_borrow_rate);
  }
  const net = supplied - owed;
  return { net, apy: net > 0n ? fmtApy((earned - paid) / Number(net)) : "n/a" };
}

/** The account's risk terms in a pool, as Aave's "risk details" reads them: the collateral's
 * weighted LTV and liquidation threshold, and how much of the borrowing limit the debt uses. */
function riskWords(v) {
  const limit = BigInt(v.total_collateral_usd) * BigInt(v.ltv) / 10000n;
  const used = limit > 0n ? fmtPct(BigInt(v.total_debt_usd) * 10n ** 27n / limit) : "n/a (no borrowing limit)";
  return `Max LTV ${fmtBps(v.ltv)} · liquidation threshold ${fmtBps(v.liquidation_threshold)} · ` +
    `borrowing limit used ${used}`;
}

/** What you can borrow in a pool where you have collateral: each borrowable reserve's exact most
 * (the node's /max-amount) and its borrow APY. */
async function borrowable(pool, v) {
  if (v.error || BigInt(v.total_collateral_usd || 0) === 0n) return null;
  const reserves = pools().find((p) => String(p.pool) === pool).reserves
    .filter((r) => r.config.borrowing_enabled && r.config.active && !r.config.frozen);
  const most = await Promise.all(reserves.map((r) => api("/max-amount", { method: "POST",
    body: { sender: key.address, action: "borrow", pool: poolParam(pool), asset: r.asset } }).catch(() => null)));
  return table(`You can borrow in ${poolName(pool)}`, ["Asset", "Available to you", "Borrow APY", ""],
    reserves.map((r, i) => [r.asset,
      h("td", { "data-testid": `borrowable-${pool}-${r.asset}`, "data-units": most[i] && most[i].amount },
        most[i] === null ? "cannot tell now" : most[i].amount === null ? "0" : `${formatUnits(most[i].amount, r.config.decimals, 6)} ${r.asset}`),
      borrowApy(r.variable_borrow_rate),
      h("td", {}, actionButton("borrow", pool, r.asset))]));
}

/** A button that opens the action form on this reserve (as Aave's rows do): action, pool and
 * asset chosen, the most it takes said, the amount to type. */
function actionButton(action, pool, asset) {
  return h("button", { type: "button", class: "secondary small", "aria-label": `${ACTIONS[action]} ${asset} in ${poolName(pool)}`,
    onclick: () => prefill(action, pool, asset) }, ACTIONS[action].replace(/^./, (c) => c.toUpperCase()));
}

function prefill(action, pool, asset) {
  byId("action").value = action;
  byId("pool").value = String(pool);
  fillAssets();
  byId("asset").value = asset;
  byId("amount").value = "";
  previewed = null;
  byId("sign").disabled = true;
  say("preview");
  showUnwrap();
  refreshMost();
  byId("action-form").scrollIntoView({ block: "center" });
  byId("amount").focus();
}

async function renderPositions(acct) {
  const wallet = table("Wallet", ["Asset", "Balance", h("th", { scope: "col", class: "words" }, "Supply APY where you can deposit it")],
    Object.entries(acct.wallet).map(([a, v]) => [a, formatUnits(v, markets.assets[a].decimals, 6), h("td", { class: "words" }, earns(a, v !== "0"))]));
  const held = inPoolOrder(acct.pools).filter(([, v]) => v.positions.length);
  const sections = await Promise.all(held.map(async ([pool, v]) => {
    const net = v.error ? null : netOf(pool, v);
    return h("div", { "data-pool": pool },
      h("h3", {}, poolName(pool)),
      v.error ? h("p", { class: "error" }, `Cannot value this account: ${v.error.code}`) : gauge(v.health_factor),
      v.error ? null : h("p", {}, `Collateral ${fmtUsd(v.total_collateral_usd)} · debt ${fmtUsd(v.total_debt_usd)} · ` +
        `borrowing power ${fmtUsd(v.borrowing_power_usd)}` +
        (net ? ` · net worth ${fmtUsd(net.net)} · net APY ${net.apy}` : "")),
      v.error ? null : h("p", { class: "muted", "data-testid": `risk-${pool}` }, riskWords(v)),
      v.liquidation_rules ? h("details", { "data-testid": `liquidation-rules-${pool}` },
        h("summary", {}, `How a liquidation works in ${inPool(pool)}`),
        h("ul", {}, ...v.liquidation_rules.map((rule) => h("li", {}, rule)))) : null,
      table(`Positions in ${poolName(pool)}`, ["Asset", "Supplied", "Supply APY", "Borrowed", "Borrow APY", "Collateral", "Liquidation price", ""],
        v.positions.map((p) => {
          const r = reserveOf(pool, p.asset);
          const underlying = r.tranche_of || p.asset;
          return [p.asset, formatUnits(p.supplied, p.decimals, 6), p.supplied === "0" ? "" : supplyApy(r.liquidity_rate),
            formatUnits(p.debt, p.decimals, 6), p.debt === "0" ? "" : borrowApy(r.variable_borrow_rate),
            p.supplied === "0" ? "" : h("button", {
              type: "button", class: "secondary", "aria-pressed": String(p.collateral),
              "aria-label": `Use ${p.asset} as collateral in ${poolName(pool)}: ${p.collateral ? "on" : "off"}`,
              onclick: () => setCollateral(pool, p.asset, !p.collateral),
            }, p.collateral ? "on" : "off"),
            p.liquidation_price ? `${underlying} at ${fmtUsd(p.liquidation_price)} (now ${fmtUsd(markets.assets[underlying].price)})` : "",
            h("td", {}, p.supplied === "0" ? null : actionButton("withdraw", pool, p.asset), " ",
              p.debt === "0" ? null : actionButton("repay", pool, p.asset))];
        })),
      await borrowable(pool, v));
  }));
  say("positions", wallet, ...(sections.length ? sections : [h("p", {}, "No positions yet: deposit below.")]),
    h("p", { id: "positions-error", class: "error", role: "status" }));
}

// ---- actions with an exact preview --------------------------------------------------------------------

/** The actions of the form, in plain words. Repaying with aTokens (Aave v3's "repay with
 * aTokens") burns your supply of the same reserve instead of paying from the wallet. */
const ACTIONS = {
  deposit: "deposit", withdraw: "withdraw", borrow: "borrow", repay: "repay",
  repay_with_a_tokens: "repay from your supply",
};
let previewed = null;
/** The account as last shown (for "before -> after" in a preview). */
let shownAccount = null;
/** The node's answer for the most the form's action takes ({action, pool, asset, amount, whole,
 * limits}), and the text the Max button typed (while the amount reads it, "max" is meant). */
let most = null;
let maxTyped = null;

function actionSection() {
  const poolOptions = pools().map((p) => h("option", { value: String(p.pool) }, poolName(p.pool)));
  const reset = () => { previewed = null; byId("sign").disabled = true; };
  return h("section", { "aria-labelledby": "act-h" },
    h("h2", { id: "act-h" }, "Deposit, withdraw, borrow, repay"),
    h("form", { id: "action-form", onsubmit: preview, oninput: reset, onchange: (e) => {
      if (e.target.tagName === "SELECT" || e.target.id === "unwrap") { showUnwrap(); refreshMost(); }
    } },
      h("label", {}, "Action", h("select", { id: "action" }, Object.entries(ACTIONS).map(([a, words]) => h("option", { value: a }, words)))),
      h("label", {}, "Pool", h("select", { id: "pool", onchange: fillAssets }, poolOptions)),
      h("label", {}, "Asset", h("select", { id: "asset" })),
      h("label", {}, "Amount (whole tokens)", h("input", { id: "amount", inputmode: "decimal", autocomplete: "off" })),
      h("button", { type: "button", id: "max-btn", class: "secondary", onclick: fillMax,
        title: "The most this action takes now, exact to the base unit" }, "Max"),
      h("label", { id: "unwrap-label", hidden: true }, h("span", { id: "unwrap-words" }),
        h("input", { type: "checkbox", id: "unwrap", checked: true })),
      h("button", { type: "submit", id: "preview-btn" }, "Preview"),
      h("button", { type: "button", id: "sign", disabled: true, onclick: signPreviewed }, "Sign and send")),
    h("p", { id: "max-info", class: "muted", role: "status", "data-testid": "max-info" }),
    h("div", { id: "preview", role: "status", "aria-live": "polite" }));
}

function fillAssets() {
  const pool = byId("pool").value;
  const reserves = pools().find((p) => String(p.pool) === pool).reserves;
  byId("asset").replaceChildren(...reserves.map((r) => h("option", { value: r.asset }, r.asset)));
}

/** The Core-Pool asset a borrow or withdrawal of the form's reserve can pay out directly (a
 * Mini-Pool tranche, e.g. was-USDC -> USDC), or null. */
function unwrapsTo() {
  const { action, pool, asset } = formReserve();
  const r = reserveOf(pool, asset);
  return r && r.tranche_of && ["borrow", "withdraw"].includes(action) ? r.tranche_of : null;
}

/** Offer "receive USDC in your wallet" where it applies (checked: what an Aave user expects). */
function showUnwrap() {
  const to = unwrapsTo();
  byId("unwrap-label").hidden = !to;
  if (to) byId("unwrap-words").textContent = `Receive ${to} in your wallet`;
}
const unwrapping = () => Boolean(unwrapsTo()) && byId("unwrap").checked;

/** What bounds an action, in words: each limit the node named, as whole tokens. */
const LIMIT_WORDS = {
  borrowing_power: "your borrowing power", cash: "the reserve's cash", credit_line: "the Core-Pool's credit line",
  supplied: "your supply", debt: "your debt", wallet: "your wallet", deposit_cap: "room under the deposit cap",
  core_shares: "your Core-Pool supply",
};

function formReserve() {
  return { action: byId("action").value, pool: byId("pool").value, asset: byId("asset").value };
}

/** Ask the node for the most the form's action takes now (exact: its dry runs), and say it. */
async function refreshMost() {
  const f = formReserve();
  if (!most || most.action !== f.action || most.pool !== f.pool || most.asset !== f.asset) {
    most = null; // another reserve or action: the Max typed before no longer applies
    maxTyped = null;
    say("max-info", "");
  }
  try {
    const body = { sender: key.address, action: f.action, pool: poolParam(f.pool), asset: f.asset, unwrap: unwrapping() };
    // A borrow or withdrawal stops at a health factor of 1.01, as Aave's app does: the protocol's
    // own most leaves 1.00, where a minute of interest makes the account liquidatable.
    if (["borrow", "withdraw"].includes(f.action)) body.keep_health_factor = KEEP_HF.toString();
    const r = await api("/max-amount", { method: "POST", body });
    const now = formReserve();
    if (now.action !== f.action || now.pool !== f.pool || now.asset !== f.asset) return null; // the form moved on
    most = { ...r, pool: f.pool };
    say("max-info", mostWords(most));
    return most;
  } catch (err) {
    most = null;
    say("max-info", h("span", { class: "error" }, `Cannot size this ${ACTIONS[f.action]} now: ${errorText(err)}`));
    return null;
  }
}

/** The health factor a Max borrow or withdrawal keeps (wad). */
const KEEP_HF = 101n * WAD / 100n;

function mostWords(m) {
  const dec = decimalsOf(m.pool, m.asset);
  const amt = (v, symbol = m.asset) => `${formatUnits(v, dec)} ${symbol}`;
  // A credit line is drawn in the Core-Pool asset (USDC), the tranche's other limits in its shares.
  const unit = (k) => (k === "credit_line" ? reserveOf(m.pool, m.asset).tranche_of : m.asset);
  const limits = Object.entries(m.limits).map(([k, v]) => `${LIMIT_WORDS[k] || k} ${amt(v, unit(k))}`).join(" · ");
  const verb = ACTIONS[m.action];
  const head = m.amount === null ? `You cannot ${verb} any ${m.asset} in ${inPool(m.pool)} now.`
    : m.whole ? `The most you can ${verb} now: all of it, ${amt(m.amount)} with interest to the next block ` +
        `(Max sends "max": the interest accrued until your transaction's block goes too).`
      : m.protocol_amount !== null
        ? `The most you can ${verb} now keeping your health factor at ${fmtHf(KEEP_HF)} or more: ${amt(m.amount)}.`
        : ["borrow", "withdraw"].includes(m.action)
          ? `The most you can ${verb} now: ${amt(m.amount)}, accepted by any block in the next minute (interest moves it a little every second).`
          : `The most you can ${verb} now: ${amt(m.amount)}.`;
  const edge = m.protocol_amount === null ? "" : ` The protocol would take up to ${amt(m.protocol_amount)}, ` +
    "which leaves a health factor of 1.00: a minute of interest or the smallest price move then makes the account liquidatable.";
  return `${head}${edge} Limits: ${limits}.`;
}

/** Fill the amount with the exact most (all decimals, no separators, so it reads back exactly). */
async function fillMax() {
  const m = await refreshMost();
  if (!m) return;
  if (m.amount === null) {
    byId("amount").value = "";
    return;
  }
  maxTyped = formatUnits(m.amount, decimalsOf(m.pool, m.asset), undefined, false);
  byId("amount").value = maxTyped;
  byId("amount").dispatchEvent(new Event("input", { bubbles: true }));
}

function formTx() {
  const { action, pool, asset } = formReserve();
  const text = byId("amount").value;
  // A withdrawal or repayment of everything goes as "max": the interest that accrues until the
  // block is withdrawn or repaid too, and no dust is left.
  const all = most && maxTyped !== null && text === maxTyped && most.whole &&
    most.action === action && most.pool === pool && most.asset === asset;
  const amount = all ? "max" : parseUnits(text, decimalsOf(pool, asset), asset);
  if (amount === 0n) throw new Error("the amount must be more than 0");
  if (action === "repay_with_a_tokens") {
    if (pool !== "core") throw new Error("repaying with your supply is for the Core-Pool only");
    return { action, params: { asset, amount: amount.toString() } };
  }
  const params = { pool: poolParam(pool), asset, amount: amount.toString() };
  return { action, params: unwrapping() ? { ...params, unwrap: true } : params };
}

/** "1.45 → 1.18": a figure before and after, the after one marked for tests. */
function beforeAfter(before, after, fmt, testid) {
  return [before === undefined ? "" : `${fmt(before)} → `,
    h("strong", { "data-testid": testid, "data-wad": after }, fmt(after))];
}

async function preview(e) {
  e.preventDefault();
  previewed = null;
  byId("sign").disabled = true;
  let tx;
  try {
    tx = formTx();
  } catch (err) {
    say("preview", h("div", { class: "preview refused" }, `Refused before signing: ${err.message}`));
    return;
  }
  try {
    const r = await api("/preview", { method: "POST", body: { sender: key.address, ...tx } });
    if (r.refused) {
      say("preview", h("div", { class: "preview refused" }, `Refused: ${r.refused.explanation || r.refused.message}`,
        h("span", { class: "muted" }, ` ${protocolCode(r.refused)}`)));
      return;
    }
    const pool = String(tx.params.pool ?? "core"); // repaying with aTokens names no pool: the Core-Pool's
    const after = r.account.pools[pool];
    const before = shownAccount && shownAccount.pools[pool] && !shownAccount.pools[pool].error ? shownAccount.pools[pool] : {};
    const res = r.reserve;
    const now = most && most.amount !== null ? ` (${formatUnits(most.amount, decimalsOf(pool, tx.params.asset))} ${tx.params.asset} now)` : "";
    const what = tx.params.amount === "max" ? `all of it${now}` : null;
    say("preview", h("div", { class: "preview" },
      what ? h("p", {}, `This ${ACTIONS[tx.action]} moves ${what}.`) : null,
      h("p", {}, `After this ${ACTIONS[tx.action]}: health factor `, ...beforeAfter(before.health_factor, after.health_factor, fmtHf, "preview-hf"),
        ", borrowing power ", ...beforeAfter(before.borrowing_power_usd, after.borrowing_power_usd, fmtUsd, "preview-power"), "."),
      hfWarning(after.health_factor),
      res ? h("p", {}, `${res.asset} in ${poolName(pool)}: utilization ${fmtPct(res.utilization)}, supply APY ${supplyApy(res.liquidity_rate)}, borrow APY ${borrowApy(res.variable_borrow_rate)}.`) : null,
      trancheWords(tx, reserveOf(pool, tx.params.asset).tranche_of, r.account.wallet)));
    previewed = tx;
    byId("sign").disabled = false;
  } catch (err) {
    say("preview", h("div", { class: "preview refused" }, `Refused: ${errorText(err)}`));
  }
}

/** A health factor this close to 1 is a liquidation waiting for a small price move or interest. */
function hfWarning(hf) {
  const v = BigInt(hf);
  if (v === MAX_HF || v >= 11n * WAD / 10n) return null;
  const soon = v < KEEP_HF ? "interest alone can make this account liquidatable within minutes, any price move sooner"
    : "a small price move or a few days of interest can make this account liquidatable";
  return h("p", { class: "bad", "data-testid": "preview-warning" }, `A health factor of ${fmtHf(hf)} is close to 1: ${soon}.`);
}

/** What moving a Mini-Pool tranche asset (Core-Pool shares, e.g. was-USDC) does: the tokens you
 * get or pay are the Core-Pool's aTokens, unless a borrow or withdrawal unwraps them into the
 * underlying for your wallet (the amount: the wallet after the dry run less the wallet shown). */
function trancheWords(tx, underlying, walletAfter) {
  if (!underlying) return null;
  const { action, params } = tx;
  const got = shownAccount ? BigInt(walletAfter[underlying]) - BigInt(shownAccount.wallet[underlying]) : 0n;
  const words = params.unwrap
    ? `you receive ${got > 0n ? formatUnits(got, markets.assets[underlying].decimals) + " " : ""}${underlying} in your wallet.`
    : ["borrow", "withdraw"].includes(action)
      ? `you receive it as ${underlying} supplied in the Core-Pool (withdraw it there to get ${underlying}).`
      : `it is taken from your ${underlying} supplied in the Core-Pool (deposit ${underlying} there first).`;
  return h("p", { "data-testid": "preview-tranche" }, `${params.asset} is a tranche of ${underlying} in the Core-Pool: ${words}`);
}

async function signPreviewed() {
  if (!previewed) return;
  const tx = previewed;
  byId("sign").disabled = true;
  try {
    const receipt = await send(key, tx.action, tx.params);
    say("preview", h("div", { class: "preview" }, `Done: ${ACTIONS[tx.action]} in block ${receipt.height}.`));
  } catch (err) {
    say("preview", h("div", { class: "preview refused" }, `Refused: ${errorText(err)}`));
  }
  previewed = null;
}

// ---- what-if -----------------------------------------------------------------------------------------

function whatIfSection() {
  const assets = Object.keys(markets.assets);
  return h("section", { "aria-labelledby": "whatif-h" },
    h("h2", { id: "whatif-h" }, "What if"),
    h("form", { id: "value-form", onsubmit: valueWhatIf },
      h("label", {}, "The same value in USD", h("input", { id: "whatif-usd", inputmode: "decimal", value: "1000" })),
      h("button", { type: "submit" }, "Compare repaying and depositing")),
    h("div", { id: "whatif-value", role: "status" }),
    h("form", { id: "price-form", onsubmit: priceWhatIf },
      h("label", {}, "Oracle price of", h("select", { id: "whatif-asset" }, assets.map((a) => h("option", { value: a }, a)))),
      h("label", {}, "New price (USD)", h("input", { id: "whatif-price", inputmode: "decimal" })),
      h("label", {}, "or change (%)", h("input", { id: "whatif-pct", inputmode: "decimal", placeholder: "-30" })),
      h("button", { type: "submit" }, "Show my health")),
    h("div", { id: "whatif-price-out", role: "status" }));
}

async function valueWhatIf(e) {
  e.preventDefault();
  try {
    const usd = parseUnits(byId("whatif-usd").value, 8, "USD");
    const r = await api("/what-if", { method: "POST", body: { address: key.address, value_usd: usd.toString() } });
    const rows = [];
    for (const [pool, v] of inPoolOrder(r.value)) {
      for (const [kind, list] of [["repay", v.repay], ["deposit", v.deposit]]) {
        for (const x of list) {
          const tranche = reserveOf(pool, x.asset).tranche_of;
          rows.push([poolName(pool), `${kind} ${formatUnits(x.amount, decimalsOf(pool, x.asset), 6)} ${x.asset}` +
            (tranche ? ` (Core-Pool ${tranche} shares, got by depositing ${tranche} there)` : ""),
            x.refused ? `refused (${x.refused.code})` : h("td", { class: hfClass(x.health_factor), "data-testid": `whatif-${kind}-${pool}-${x.asset}`, "data-wad": x.health_factor }, fmtHf(x.health_factor))]);
        }
      }
    }
    say("whatif-value", table(`${fmtUsd(usd)} as a repayment or as a deposit: health factor after`, ["Pool", "Action", "Health factor"], rows));
  } catch (err) {
    say("whatif-value", h("p", { class: "error" }, `Refused: ${errorText(err)}`));
  }
}

async function priceWhatIf(e) {
  e.preventDefault();
  try {
    const asset = byId("whatif-asset").value;
    let price;
    if (byId("whatif-price").value.trim()) {
      price = parseUnits(byId("whatif-price").value, 8, "USD");
    } else {
      const pct = byId("whatif-pct").value.trim();
      if (!/^-?[0-9]+(\.[0-9]{1,2})?$/.test(pct)) throw new Error("enter a price, or a change in percent with at most 2 decimals (e.g. -30)");
      const neg = pct.startsWith("-");
      const bps = parseUnits(pct.replace("-", ""), 2, "percent");
      const now = BigInt(markets.assets[asset].price);
      price = (now * (10000n + (neg ? -bps : bps))) / 10000n;
    }
    if (price <= 0n) throw new Error("the price must be above 0");
    const r = await api("/what-if", { method: "POST", body: { address: key.address, prices: { [asset]: price.toString() } } });
    say("whatif-price-out", table(`With ${asset} at ${fmtUsd(price)}`, ["Pool", "Health factor", "Status"],
      inPoolOrder(r.prices).map(([pool, v]) => [poolName(pool),
        h("td", { class: hfClass(v.health_factor), "data-testid": `whatif-price-${pool}`, "data-wad": v.health_factor }, fmtHf(v.health_factor)),
        v.liquidatable ? "liquidatable" : "safe"])));
  } catch (err) {
    say("whatif-price-out", h("p", { class: "error" }, `Refused: ${errorText(err)}`));
  }
}

// ---- alerts --------------------------------------------------------------------------------------------

function alertSection() {
  const t = thresholds();
  return h("section", { "aria-labelledby": "alerts-h" },
    h("h2", { id: "alerts-h" }, "Alerts"),
    h("p", {}, "A banner appears when your health factor falls below a threshold, and when you are liquidated."),
    h("form", { onsubmit: (e) => {
      e.preventDefault();
      try {
        const warn = byId("warn").value.trim(), danger = byId("danger").value.trim();
        parseUnits(warn, 18); parseUnits(danger, 18);
        setThresholds({ warn, danger, notify: byId("notify").checked });
        if (byId("notify").checked && "Notification" in window) Notification.requestPermission();
        say("alerts-saved", "Saved.");
      } catch (err) { say("alerts-saved", h("span", { class: "error" }, err.message)); }
    } },
      h("label", {}, "Warn below", h("input", { id: "warn", value: t.warn, inputmode: "decimal" })),
      h("label", {}, "Danger below", h("input", { id: "danger", value: t.danger, inputmode: "decimal" })),
      h("label", {}, "Browser notifications", h("input", { type: "checkbox", id: "notify", checked: t.notify })),
      h("button", { type: "submit" }, "Save")),
    h("p", { id: "alerts-saved", role: "status" }));
}

// ---- history -----------------------------------------------------------------------------------------

/** A transaction's action in words: the form's names, "use as collateral", and where a tranche's
 * borrow or withdrawal was paid out in the Core-Pool asset. */
function historyWords(t) {
  const words = t.action === "set_collateral" ? "use as collateral" : ACTIONS[t.action] || t.action.replace(/_/g, " ");
  return t.params.unwrap ? `${words}, received as ${reserveOf(t.params.pool, t.params.asset).tranche_of}` : words;
}

async function renderHistory() {
  const [txs, liq] = await Promise.all([api(`/txs?sender=${key.address}&limit=50`), api(`/liquidations?user=${key.address}`)]);
  say("history",
    table("Your transactions (newest first)", ["Block", "Action", "Pool", "Asset", "Amount"],
      txs.items.map((t) => [String(t.height), historyWords(t), t.params.pool === undefined ? "" : poolName(t.params.pool),
        t.params.asset || "", t.params.amount === undefined ? (t.params.enabled === undefined ? "" : t.params.enabled ? "on" : "off")
          : t.params.amount === "max" ? "all" : formatUnits(t.params.amount, decimalsIn(markets)(t.params.asset), 6)])),
    liq.items.length
      ? table("Liquidations you suffered", LIQUIDATION_HEADERS, liquidationRows(liq.items, decimalsIn(markets)))
      : h("p", {}, "No liquidations of this account."));
}

// ---- operator ---------------------------------------------------------------------------------------

function rolesOf(st) {
  const held = Object.entries(st.roles).filter(([r, a]) => typeof a === "string" && a === key.address).map(([r]) => r);
  for (const [pool, a] of Object.entries(st.roles.pool_admins || {})) if (a === key.address) held.push(`pool ${pool} admin`);
  return held;
}

function oracleForm(assets) {
  return h("div", {},
    h("h3", {}, "Oracle price"),
    h("form", { id: "oracle-form", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const asset = byId("oracle-asset").value;
        const price = parseUnits(byId("oracle-price").value, 8, "USD");
        if (price <= 0n) throw new Error("the price must be above 0");
        const r = await send(key, "set_price", { asset, price: price.toString() });
        say("oracle-result", `${asset} set to ${fmtUsd(price)} in block ${r.height}.`);
      } catch (err) { say("oracle-result", h("span", { class: "error" }, `Refused: ${errorText(err)}`)); }
    } },
      h("label", {}, "Asset", h("select", { id: "oracle-asset" }, assets.map((a) => h("option", { value: a }, a)))),
      h("label", {}, "Price (USD)", h("input", { id: "oracle-price", inputmode: "decimal" })),
      h("button", { type: "submit" }, "Sign and set price")),
    h("p", { id: "oracle-result", role: "status" }));
}

/** Any action, parameters as JSON (amounts in base units, as decimal strings): for role keys. */
async function anyActionForm() {
  const spec = await api("/openapi.json");
  const actions = spec.paths["/txs"].post.requestBody.content["application/json"].schema.properties.tx.properties.action.enum;
  let ready = null;
  const read = () => {
    let params;
    try { params = JSON.parse(byId("op-params").value || "{}"); } catch { throw new Error("the parameters are not JSON"); }
    return { action: byId("op-action").value, params };
  };
  return h("div", {},
    h("h3", {}, "Any transaction"),
    h("form", { id: "op-form", oninput: () => { ready = null; byId("op-sign").disabled = true; }, onsubmit: async (e) => {
      e.preventDefault();
      try {
        const tx = read();
        const r = await api("/preview", { method: "POST", body: { sender: key.address, ...tx } });
        if (r.refused) throw new Error(r.refused.explanation || r.refused.message);
        say("op-result", `Preview: ${r.events.map((ev) => ev.event).join(", ") || "no events"}.`);
        ready = tx;
        byId("op-sign").disabled = false;
      } catch (err) { say("op-result", h("span", { class: "error" }, `Refused: ${errorText(err)}`)); }
    } },
      h("label", {}, "Action", h("select", { id: "op-action" }, actions.map((a) => h("option", { value: a }, a)))),
      h("label", {}, "Parameters (JSON; amounts in base units as strings)", h("textarea", { id: "op-params", rows: 3, cols: 50 }, '{"asset": "WETH"}')),
      h("button", { type: "submit" }, "Preview"),
      h("button", { type: "button", id: "op-sign", disabled: true, onclick: async () => {
        if (!ready) return;
        try { const r = await send(key, ready.action, ready.params); say("op-result", `Done in block ${r.height}.`); }
        catch (err) { say("op-result", h("span", { class: "error" }, `Refused: ${errorText(err)}`)); }
        ready = null; byId("op-sign").disabled = true;
      } }, "Sign and send")),
    h("p", { id: "op-result", role: "status" }));
}

async function operatorSection(st) {
  const roles = rolesOf(st);
  if (!roles.length) return null;
  return h("section", { "aria-labelledby": "op-h" },
    h("h2", { id: "op-h" }, `Operator: this key holds ${roles.join(", ").replace(/_/g, " ")}`),
    roles.includes("oracle") ? oracleForm(Object.keys(markets.assets)) : null,
    await anyActionForm());
}

// ---- page -------------------------------------------------------------------------------------------

let built = false;
async function render() {
  markets = await api("/markets");
  if (!built) {
    key = await currentKey().catch(() => null);
    const st = await status();
    if (!key) { show(keySection()); built = true; return; }
    show(keySection(), faucetSection(st), h("section", { "aria-labelledby": "pos-h" }, h("h2", { id: "pos-h" }, "Positions and health"), h("div", { id: "positions" })),
      actionSection(), whatIfSection(), alertSection(), h("section", { "aria-labelledby": "hist-h" }, h("h2", { id: "hist-h" }, "History"), h("div", { id: "history" })),
      await operatorSection(st));
    fillAssets();
    showUnwrap();
    built = true;
  }
  if (!key) return;
  shownAccount = await api(`/accounts/${key.address}`);
  await renderPositions(shownAccount);
  await refreshMost(); // what the form's action takes moves with every block
  await renderHistory();
}

start(render);
