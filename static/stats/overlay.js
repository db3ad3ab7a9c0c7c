// A stream overlay of a game (/games/<slug>/overlay/?view=...): one part of the wall pages on
// a transparent page, for a streaming tool's browser source. `scale` (checked by the server)
// sizes the text through a CSS variable: setting a style from a script is allowed by the CSP.

import { wallStart } from "./wall/page.js";

const root = document.getElementById("wall");
const scale = Number(root.dataset.scale);
if (Number.isFinite(scale) && scale > 0) document.documentElement.style.setProperty("--scale", String(scale));
wallStart(root);
