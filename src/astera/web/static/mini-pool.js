// A Mini-Pool: its credit lines from the Core-Pool, its tranche, its terms, its riskiest borrowers.
import { api, h, show, table, start, fmtUsd, formatUnits, fmtPct, fmtHf, hfClass, short, supplyApy, borrowApy } from "./app.js";
import { poolSection } from "./pools.js";

const id = location.pathname.split("/")[3];

async function render() {
  const [pool, m, oracle, risk] = await Promise.all([api(`/pools/${id}`), api("/markets"), api("/oracle"), api("/risk")]);
  document.querySelector("h1").textContent = `Mini-Pool ${id}`;
  const decimals = (a) => m.assets[a].decimals;
  const tranches = pool.reserves.filter((r) => r.tranche_of);
  const floors = await Promise.all(tranches.map((r) => api(`/reserves/${id}/${encodeURIComponent(r.asset)}/curve`)));
  const mine = risk.pools.find((p) => String(p.pool) === id);
  show(
    h("section", {},
      h("h2", {}, "Credit lines from the Core-Pool"),
      h("p", { class: "muted" }, "Drawn now includes the interest accrued on the Core-Pool debt."),
      table("Credit lines", ["Asset", "Flow limit", "Drawn now", "Headroom", "Drawing"],
        pool.credit_lines.map((c) => [c.asset, `${formatUnits(c.flow_limit, decimals(c.asset), 2)} ${c.asset}`,
          `${formatUnits(c.current_flow, decimals(c.asset), 6)} ${c.asset}`,
          `${formatUnits(c.available, decimals(c.asset), 2)} ${c.asset}`, c.is_flow_borrowing ? "yes" : "no"]))),
    h("section", {},
      h("h2", {}, "Tranches"),
      table("Tranche reserves", ["Reserve", "Tranche of", "Supply APY", "Borrow APY", "Supply rate floor while it owes the Core"],
        tranches.map((r, i) => [r.asset, `Core-Pool ${r.tranche_of}`, supplyApy(r.liquidity_rate), borrowApy(r.variable_borrow_rate),
          floors[i].floor ? fmtPct(floors[i].floor) : "none (owes nothing)"]))),
    h("section", {},
      h("h2", {}, "Parameters"),
      table("Pool parameters", ["", "Value"], [
        ["Admin", h("span", { class: "addr" }, pool.admin)],
        ["Paused", pool.paused ? "yes" : "no"],
        ["Flash-loan premium", `${pool.flash_premium} bps`],
        ["Minimum debt threshold", `${formatUnits(pool.min_debt_threshold, 6, 6)} (6 decimals)`],
      ])),
    poolSection(m, oracle, pool),
    h("section", {},
      h("h2", {}, "Borrowers closest to liquidation"),
      mine && mine.closest.length
        ? table("Lowest health factors", ["Account", "Health factor", "Collateral", "Debt"],
          mine.closest.map((a) => [h("span", { class: "addr", title: a.address }, short(a.address)),
            h("td", { class: hfClass(a.health_factor) }, fmtHf(a.health_factor)), fmtUsd(a.collateral_usd), fmtUsd(a.debt_usd)]))
        : h("p", {}, "No borrowers.")),
  );
}

start(render);
