/** Renders a Vega-Lite spec to an SVG string in Node, with vega's headless View (no DOM, no canvas, no network). */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
