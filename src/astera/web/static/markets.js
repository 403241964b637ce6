// Markets: the Core-Pool and each Mini-Pool, totals in USD and every reserve's terms.
import { api, h, show, start } from "./app.js";
import { poolSection } from "./pools.js";

async function render() {
  const [m, oracle] = await Promise.all([api("/markets"), api("/oracle")]);
  show(
    h("p", { class: "muted" }, "Supply APY equals the supply rate: supply interest accrues linearly. " +
      "Borrow APY compounds the borrow rate every second: (1 + rate / 31,536,000)^31,536,000 − 1. " +
      "Prices are the oracle's, in USD."),
    poolSection(m, oracle, m.core),
    ...m.mini_pools.map((p) => poolSection(m, oracle, p)),
  );
}

start(render);
