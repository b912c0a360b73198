// The page imports uPlot as "./uplot.esm.js" (served from node_modules by dashboard.ts);
// this gives that import the package's own types.
import uPlot from "uplot";

export default uPlot;
