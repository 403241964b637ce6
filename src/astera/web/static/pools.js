// A pool's reserves, liquidation fees, deficits and liquidation rules, shared by the markets and
// Mini-Pool pages.
import { h, table, value, fmtUsd, fmtUsdTotal, formatUnits, fmtPct, fmtBps, supplyApy, borrowApy, poolName, inPool } from "./app.js";

export function age(seconds) {
  if (seconds === null) return "no price";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

/** What can be borrowed now: the reserve's cash, and for a Mini-Pool tranche the headroom of the
 * Core-Pool's credit line that a borrow draws on (its cash alone reads 0 while the line is open). */
export function available(pool, r) {
  const cash = `${formatUnits(r.available_liquidity, r.config.decimals, 4)} ${r.asset}`;
  const line = (pool.credit_lines || []).find((c) => c.asset === r.tranche_of);
  if (!line || BigInt(line.available) === 0n) return cash;
  return h("td", { "data-testid": `available-${pool.pool}-${r.asset}` }, cash, h("br"),
    h("span", { class: "muted wraps" }, h("span", { class: "nowrap" }, `+ ${formatUnits(line.available, r.config.decimals, 0)} ${line.asset}`),
      " ", h("span", { class: "nowrap" }, "credit line")));
}

export function poolSection(m, oracle, pool) {
  const name = poolName(pool.pool);
  let supplied = 0n, borrowed = 0n;
  const rows = pool.reserves.map((r) => {
    const dec = r.config.decimals;
    const price = r.price === null ? 0n : BigInt(r.price);
    supplied += value(r.total_supplied, price, dec);
    borrowed += value(r.total_debt, price, dec);
    const feed = oracle[r.tranche_of || r.asset];
    const cap = BigInt(r.config.deposit_cap) ? `${formatUnits(r.config.deposit_cap, 0)} ${r.asset}` : "none";
    return [
      h("td", {}, h("a", { href: `/app/reserve/${pool.pool}/${encodeURIComponent(r.asset)}` }, r.asset),
        r.tranche_of ? [h("br"), h("span", { class: "muted wraps" }, `tranche of ${r.tranche_of}`)] : null),
      // The price with its age below it: one column, so that the table fits a 1280-px screen.
      h("td", {}, r.price === null ? "no price" : fmtUsd(r.price),
        feed ? [h("br"), h("span", { class: "muted" }, `${age(m.timestamp - feed.updated_at)} old`)] : null),
      fmtUsdTotal(value(r.total_supplied, price, dec)),
      fmtUsdTotal(value(r.total_debt, price, dec)),
      available(pool, r),
      fmtPct(r.utilization),
      supplyApy(r.liquidity_rate),
      borrowApy(r.variable_borrow_rate),
      cap,
      fmtBps(r.config.ltv),
      fmtBps(r.config.liquidation_threshold),
      fmtBps(BigInt(r.config.liquidation_bonus) - 10000n),
      fmtBps(r.config.reserve_factor),
    ];
  });
  return h("section", { "aria-labelledby": `pool-${pool.pool}` },
    h("h2", { id: `pool-${pool.pool}` }, pool.pool === "core" ? name : h("a", { href: `/app/mini-pool/${pool.pool}` }, name),
      pool.paused ? h("span", { class: "bad" }, " (paused)") : null),
    h("p", {}, `Supplied ${fmtUsd(supplied)} · borrowed ${fmtUsd(borrowed)} · available ${fmtUsd(supplied > borrowed ? supplied - borrowed : 0n)}`),
    table(`${name} reserves`,
      ["Asset", "Oracle price", "Supplied", "Borrowed", "Available", "Utili\u00adzation", "Supply APY",
        "Borrow APY", "Deposit cap", "LTV", "Liq. threshold", "Liq. bonus", "Reserve factor"], rows),
    feesAndDeficits(pool, name),
    h("div", { "data-testid": `liquidation-policy-${pool.pool}` },
      h("h3", {}, `How a liquidation works in ${inPool(pool.pool)}`),
      h("ul", {}, ...pool.liquidation_policy.rules.map((rule) => h("li", {}, rule)))));
}

/** The reserves whose liquidations pay the treasury a fee or that carry a deficit; null if none. */
function feesAndDeficits(pool, name) {
  const shown = pool.reserves.filter((r) => r.liquidation_protocol_fee > 0 || BigInt(r.deficit) > 0n);
  if (!shown.length) return null;
  const deficits = shown.some((r) => BigInt(r.deficit) > 0n);
  return h("div", {},
    table(`${name}: liquidation fees and deficits`, ["Asset", "Treasury's share of the liquidation bonus", "Deficit"],
      shown.map((r) => [r.asset, r.liquidation_protocol_fee ? fmtBps(r.liquidation_protocol_fee) : "none",
        BigInt(r.deficit) > 0n
          ? h("td", { class: "bad", "data-testid": `deficit-${pool.pool}-${r.asset}` },
            `${formatUnits(r.deficit, r.config.decimals, 6)} ${r.asset}`)
          : "none"])),
    deficits ? h("p", { class: "muted" }, "A deficit is debt a liquidation wrote off (the borrower had no " +
      "collateral left) that the treasury has not covered yet. Until it is covered, the reserve pays its " +
      "suppliers interest only on what it holds and is owed.") : null);
}

