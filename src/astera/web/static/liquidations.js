// Recent liquidations across all pools, and the keeper's status.
import { api, h, show, table, start, formatUnits, fmtUsd, short, decimalsIn, poolName } from "./app.js";

export function liquidationRows(items, decimals) {
  return items.map((l) => [
    String(l.height),
    poolName(l.pool),
    h("span", { class: "addr", title: l.user }, short(l.user)),
    `${formatUnits(l.debt_repaid, decimals(l.debt_asset), 6)} ${l.debt_asset}`,
    `${formatUnits(l.collateral_seized, decimals(l.collateral_asset), 6)} ${l.collateral_asset}`,
    l.bonus === null ? "" : `${formatUnits(l.bonus, decimals(l.collateral_asset), 6)} ${l.collateral_asset}`,
    h("span", { class: "addr", title: l.liquidator }, short(l.liquidator)),
  ]);
}
export const LIQUIDATION_HEADERS = ["Block", "Pool", "Account", "Debt repaid", "Collateral seized", "Bonus", "Liquidator"];

/** Asset decimals by symbol, Mini-Pool tranches included. */
export async function decimalsOf() {
  return decimalsIn(await api("/markets"));
}

/** A keeper status field for people: USD, yes/no, refusals counted by reason ("73: 2") or "none". */
function keeperValue(key, v) {
  if (key.endsWith("_usd")) return fmtUsd(v);
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (v && typeof v === "object") return Object.entries(v).map(([reason, n]) => `${reason}: ${n}`).join(", ") || "none";
  return String(v);
}

async function render() {
  const [feed, decimals] = await Promise.all([api("/liquidations?limit=100"), decimalsOf()]);
  const k = feed.keeper;
  show(
    h("section", {},
      h("h2", {}, "Keeper"),
      k ? table("The node's liquidation keeper", ["", "Value"],
        Object.entries(k).map(([key, v]) => [key.replace(/_usd$/, "").replace(/_/g, " "), keeperValue(key, v)]))
        : h("p", {}, "This node runs no keeper.")),
    h("section", {},
      h("h2", {}, "Recent liquidations"),
      feed.items.length ? table("Newest first", LIQUIDATION_HEADERS, liquidationRows(feed.items, decimals))
        : h("p", {}, "No liquidations yet.")),
  );
}

if (document.body.dataset.page === "liquidations") start(render);
