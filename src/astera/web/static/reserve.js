// One reserve: its terms, its interest-rate curve now, and its history from the node's blocks.
import { api, h, show, table, start, fmtUsd, formatUnits, fmtPct, fmtBps, supplyApy, borrowApy, inPool, fmtTime } from "./app.js";

const [, , , poolRef, asset] = location.pathname.split("/").map(decodeURIComponent);
const base = `/reserves/${poolRef}/${encodeURIComponent(asset)}`;

async function render(block) {
  const [pool, curve] = await Promise.all([api(`/pools/${poolRef}`), api(`${base}/curve`)]);
  const r = pool.reserves.find((x) => x.asset === asset);
  if (!r) throw new Error(`no reserve ${asset} in pool ${poolRef}`);
  const dec = r.config.decimals;
  const stamp = block ? block.height : "now";
  const params = Object.entries(curve.params).filter(([k]) => k !== "model")
    .map(([k, v]) => [k, /utilization|rate|error|slope/.test(k) ? `${v} (${fmtPct(v)})` : v]);
  document.querySelector("h1").textContent = `${asset} in ${inPool(poolRef)}`;
  show(
    h("section", {},
      h("h2", {}, "Now"),
      table("Reserve state", ["", "Value"], [
        ["Oracle price", r.price === null ? "no price" : fmtUsd(r.price)],
        ["Supplied", `${formatUnits(r.total_supplied, dec, 4)} ${asset}`],
        ["Borrowed", `${formatUnits(r.total_debt, dec, 4)} ${asset}`],
        ["Available liquidity", `${formatUnits(r.available_liquidity, dec, 4)} ${asset}`],
        ["Utilization", fmtPct(r.utilization)],
        ["Supply APY (linear)", supplyApy(r.liquidity_rate)],
        ["Borrow APY (compounded per second)", borrowApy(r.variable_borrow_rate)],
        ["LTV / liquidation threshold", `${fmtBps(r.config.ltv)} / ${fmtBps(r.config.liquidation_threshold)}`],
        ["Liquidation bonus", fmtBps(BigInt(r.config.liquidation_bonus) - 10000n)],
        ["Reserve factor", fmtBps(r.config.reserve_factor)],
        ["Deposit cap", BigInt(r.config.deposit_cap) ? `${formatUnits(r.config.deposit_cap, 0)} ${asset}` : "none"],
      ])),
    h("section", {},
      h("h2", {}, "Interest-rate curve"),
      h("p", {}, `Model: ${curve.model}. The dot is the reserve now (utilization ${fmtPct(curve.current.utilization)}, borrow rate ${fmtPct(curve.current.borrow_rate)}).` +
        (curve.controller ? ` The PI controller's curve as it stands now: integral error ${fmtPct(curve.controller.err_i)}, last update at ${fmtTime(curve.controller.last_timestamp)}.` : "") +
        (curve.floor ? ` While this Mini-Pool owes the Core, its supply rate is at least ${fmtPct(curve.floor)}.` : "")),
      h("img", { class: "chart", src: `${base}/curve.svg?b=${stamp}`, alt: `${asset} borrow and supply rate against utilization` }),
      table("Strategy parameters (ray)", ["Parameter", "Value"], params)),
    h("section", {},
      h("h2", {}, "History"),
      h("img", { class: "chart", src: `${base}/history.svg?series=rates&b=${stamp}`, alt: `${asset} utilization and rates over time` }),
      h("img", { class: "chart", src: `${base}/history.svg?series=price&b=${stamp}`, alt: `${asset} oracle price over time` })),
  );
}

start(render);
