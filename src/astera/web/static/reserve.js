// One reserve: its terms, its interest-rate curve now, and its history from the node's blocks.
import { api, h, show, table, start, fmtUsd, formatUnits, fmtPct, fmtBps, supplyApy, borrowApy, inPool, fmtTime } from "./app.js";
import { available } from "./pools.js";

const [, , , poolRef, asset] = location.pathname.split("/").map(decodeURIComponent);
const base = `/reserves/${poolRef}/${encodeURIComponent(asset)}`;

/** A ray figure as a plain decimal number ("1", "0.00000013", "-0.3675"). */
const rayNumber = (v) => formatUnits(v, 27, 27, false);

/** Seconds as days, hours or seconds, whichever is whole. */
function span(seconds) {
  const v = BigInt(seconds);
  if (v !== 0n && v % 86400n === 0n) return `${v / 86400n} days`;
  if (v !== 0n && v % 3600n === 0n) return `${v / 3600n} hours`;
  return `${v} s`;
}

/** The lowest borrow rate a PI controller gives (at its error floor): 0.2·((minCE + 1)/2)², a display figure. */
const piFloorRate = (minCE) => (0.2 * ((Number(BigInt(minCE) / 10n ** 18n) / 1e9 + 1) / 2) ** 2 * 100).toFixed(2) + " %";

/** Each strategy parameter: what it is in plain words, and its value as people read it. */
const PARAMS = {
  optimal_utilization: ["Target (optimal) utilization", fmtPct],
  base_rate: ["Borrow rate at 0 % utilization", fmtPct],
  slope1: ["Rise of the borrow rate up to the optimal utilization", fmtPct],
  slope2: ["Further rise from the optimal utilization to 100 %", fmtPct],
  borrow_rate: ["Borrow rate", fmtPct],
  kp: ["Proportional gain: how strongly the rate answers today's distance from the target", rayNumber],
  ki: ["Integral gain, per second: how fast a lasting distance from the target moves the rate", rayNumber],
  min_controller_error: ["Lowest controller error: it sets the lowest rate", (v) => `${rayNumber(v)} (a borrow rate of ${piFloorRate(v)})`],
  max_i_time_amp: ["How low the integral may go: as low as this long at the largest shortfall below the target", span],
};

/** The reserve's rate model in plain words (the API names it "default", "pi" or "fixed"). */
function modelWords(model, params, reserveFactor) {
  const share = `Suppliers earn the borrow rate times the utilization, less the reserve factor (${fmtBps(reserveFactor)}).`;
  if (model === "pi") {
    return `Rate model: a PI (proportional-integral) controller, not a fixed curve. It steers utilization toward a target of ` +
      `${fmtPct(params.optimal_utilization)}: the further utilization is above the target, the higher the borrow rate, and ` +
      `while it stays above, the rate keeps rising over time (the integral) until borrowers repay or suppliers come; ` +
      `below the target it falls the same way, to at least ${piFloorRate(params.min_controller_error)}. ` +
      `So the curve below is today's: it moves as the controller learns. At 0 % utilization the rate is 0. ${share}`;
  }
  if (model === "default") {
    return `Rate model: two slopes (as in Aave). The borrow rate starts at ${fmtPct(params.base_rate)} and rises by ` +
      `${fmtPct(params.slope1)} as utilization goes up to the optimal ${fmtPct(params.optimal_utilization)}, then by a ` +
      `further ${fmtPct(params.slope2)} from there to 100 %: borrowing gets expensive fast once more than ` +
      `${fmtPct(params.optimal_utilization)} of the reserve is lent out. ${share}`;
  }
  if (model === "fixed") return `Rate model: a fixed borrow rate of ${fmtPct(params.borrow_rate)}. ${share}`;
  return `Rate model: ${model}. ${share}`;
}

async function render(block) {
  const [pool, curve] = await Promise.all([api(`/pools/${poolRef}`), api(`${base}/curve`)]);
  const r = pool.reserves.find((x) => x.asset === asset);
  if (!r) throw new Error(`no reserve ${asset} in pool ${poolRef}`);
  const dec = r.config.decimals;
  const stamp = block ? block.height : "now";
  const params = Object.entries(curve.params).filter(([k]) => k !== "model")
    .map(([k, v]) => [PARAMS[k] ? PARAMS[k][0] : k,
      h("td", { title: `${k} = ${v} (exact: ray, or seconds)` }, PARAMS[k] ? PARAMS[k][1](v) : String(v))]);
  document.querySelector("h1").textContent = `${asset} in ${inPool(poolRef)}`;
  show(
    h("section", {},
      h("h2", {}, "Now"),
      table("Reserve state", ["", "Value"], [
        ["Oracle price", r.price === null ? "no price" : fmtUsd(r.price)],
        ["Supplied", `${formatUnits(r.total_supplied, dec, 4)} ${asset}`],
        ["Borrowed", `${formatUnits(r.total_debt, dec, 4)} ${asset}`],
        ["Available liquidity", available(pool, r)],
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
      h("p", { "data-testid": "rate-model" }, modelWords(curve.model, curve.params, r.config.reserve_factor)),
      h("p", {}, `The dot is the reserve now (utilization ${fmtPct(curve.current.utilization)}, borrow rate ${fmtPct(curve.current.borrow_rate)}).` +
        (curve.controller ? ` The PI controller's curve as it stands now: integral error ${fmtPct(curve.controller.err_i)}, last update at ${fmtTime(curve.controller.last_timestamp)}.` : "") +
        (curve.floor ? ` While this Mini-Pool owes the Core, its supply rate is at least ${fmtPct(curve.floor)}.` : "")),
      h("img", { class: "chart", src: `${base}/curve.svg?b=${stamp}`, alt: `${asset} borrow and supply rate against utilization` }),
      table("Rate model parameters (hover a value for the exact figure)", ["Parameter", "Value"], params)),
    h("section", {},
      h("h2", {}, "History"),
      h("img", { class: "chart", src: `${base}/history.svg?series=rates&b=${stamp}`, alt: `${asset} utilization and rates over time` }),
      h("img", { class: "chart", src: `${base}/history.svg?series=price&b=${stamp}`, alt: `${asset} oracle price over time` })),
  );
}

start(render);
