// The risk view (no key needed): per pool, closest to liquidation, HF spread, bad debt; Core exposure.
import { api, h, show, table, start, fmtUsd, fmtHf, hfClass, formatUnits, short, poolName } from "./app.js";
import { decimalsOf } from "./liquidations.js";

function bucketLabels(edges) {
  const e = edges.map((x) => formatUnits(x, 18, 2));
  return [`< ${e[0]}`, ...e.slice(1).map((x, i) => `${e[i]} – ${x}`), `≥ ${e[e.length - 1]}`];
}

function ladderSection(ladder) {
  const rungs = ladder.rungs_bps.map((b) => (Number(b) ? `−${Number(b) / 100} %` : "now"));
  return h("section", {},
    h("h2", {}, "Shock ladder"),
    h("p", { class: "muted" }, `As of block ${ladder.height} (recomputed at most every 30 s). ` +
      "Each collateral asset's price cut alone, on a copy of the state: the debt that becomes " +
      "liquidatable, and the bad debt left after the keeper liquidates into a model market (constant product, " +
      `${fmtUsd(ladder.market.depth_usd)} per side). JSON: `, h("a", { href: "/risk/shock-ladder" }, "/risk/shock-ladder"), "."),
    ...Object.entries(ladder.assets).map(([asset, list]) =>
      table(`${asset} price down`, ["", ...rungs], [
        ["Price", ...list.map((r) => fmtUsd(r.price))],
        ["Liquidatable debt", ...list.map((r) => fmtUsd(r.total.liquidatable_debt))],
        ["Accounts", ...list.map((r) => String(r.total.liquidatable_accounts))],
        ["Bad debt after", ...list.map((r) => fmtUsd(r.total.bad_debt))],
      ])));
}

async function render() {
  const [risk, ladder, decimals] = await Promise.all([api("/risk"), api("/risk/shock-ladder"), decimalsOf()]);
  show(
    h("p", { class: "muted" }, "Exact health factors of every borrower on the live state, recomputed each block. JSON: ",
      h("a", { href: "/risk" }, "/risk"), "."),
    ...risk.pools.map((p) => {
      const name = poolName(p.pool);
      const labels = bucketLabels(p.hf_buckets);
      return h("section", { "aria-label": name },
        h("h2", {}, name),
        h("p", {}, `${p.borrowers} borrowers, ${p.liquidatable} liquidatable now` +
          (p.unpriced ? `, ${p.unpriced} without a price` : "") + `; debt above collateral: ${fmtUsd(p.underwater_usd)}.`),
        table("Health-factor distribution", ["Health factor", "Borrowers"], labels.map((l, i) => [l, String(p.hf_histogram[i])])),
        table("Closest to liquidation", ["Account", "Health factor", "Collateral", "Debt"],
          p.closest.map((a) => [h("span", { class: "addr", title: a.address }, short(a.address)),
            h("td", { class: hfClass(a.health_factor) }, fmtHf(a.health_factor)), fmtUsd(a.collateral_usd), fmtUsd(a.debt_usd)])),
        table("Bad debt (debt of accounts with no collateral left)", ["Reserve", "Amount"],
          p.bad_debt.length ? p.bad_debt.map((b) => [b.asset, `${formatUnits(b.amount, decimals(b.asset), 6)} ${b.asset}`]) : [["none", ""]]));
    }),
    h("section", {},
      h("h2", {}, "Core-Pool exposure to Mini-Pools"),
      table("Flow debt against each Mini-Pool's collateral", ["Mini-Pool", "Flow debt", "Flow debt (USD)", "Mini-Pool collateral (USD)"],
        risk.exposure.map((e) => [String(e.mini_pool),
          e.lines.map((l) => `${formatUnits(l.flow_debt, decimals(l.asset), 2)} ${l.asset}`).join(", ") || "none",
          fmtUsd(e.flow_debt_usd), fmtUsd(e.collateral_usd)]))),
    ladderSection(ladder),
  );
}

start(render);
