/**
 * The HTML report: escaping, the PNG encoder, and `tinyml report --model DIR` on
 * a model folder with the files train, evaluate and validate write, rendered in
 * headless Chromium: the page must draw (not blank) and log nothing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeHtml, el, render } from '../src/report/html.ts';
import { encodeGrayPng } from '../src/report/png.ts';
import { validationDetail } from '../src/validate/detail.ts';
import { crc32, crc32Hex } from '../src/protocol/crc32.ts';
import { writeInt8ModelFolder } from './helpers/random-model.ts';
import { decodePng, pictureStats } from './helpers/png-decode.ts';
import { CHROMIUM, screenshot } from './helpers/chromium.ts';
import { assertOneLineError, tinyml } from './helpers/cli.ts';

const HOSTILE = '<script>alert("x")</script> & <b>co</b>';

test('escapeHtml escapes the five characters; el escapes text and attributes, not nested elements', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const html = render(el('p', { title: '"><script>' }, HOSTILE, el('b', {}, 'ok')));
  assert.equal(html, '<p title="&quot;&gt;&lt;script&gt;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;<b>ok</b></p>');
});

test('encodeGrayPng writes a PNG that decodes to the same pixels', () => {
  const pixels = Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 37) & 0xff);
  const img = decodePng(encodeGrayPng(pixels, 28, 28));
  assert.equal(img.width, 28);
  assert.equal(img.height, 28);
  for (let i = 0; i < pixels.length; i++) assert.equal(img.data[i * 4], pixels[i]);
  assert.throws(() => encodeGrayPng(pixels, 27, 28), RangeError);
});

test('validationDetail: top-1 per run, cycles, and the first samples that differ or are wrong', () => {
  // 4 samples of 3 outputs; sample 1's device output differs from TFLite's by a step, sample 2 is misclassified.
  const device = Int8Array.from([9, 1, 1, 1, 9, 2, 9, 1, 1, 1, 1, 9]);
  const tflite = Int8Array.from([9, 1, 1, 1, 9, 1, 9, 1, 1, 1, 1, 9]);
  const images = Uint8Array.from({ length: 4 * 4 }, (_, i) => i);
  const d = validationDetail({
    outputs: { count: 4, width: 3, device, reference: device, tflite, cycles: Uint32Array.from([5, 6, 7, 8]) },
    labels: Uint8Array.from([0, 1, 1, 2]),
    images,
    inSize: 4,
    floatTop1: Uint8Array.from([0, 1, 0, 2]),
  });
  assert.equal(d.host, 'tflite');
  assert.deepEqual(d.deviceTop1, [0, 1, 0, 2]);
  assert.deepEqual(d.hostTop1, [0, 1, 0, 2]);
  assert.deepEqual(d.floatTop1, [0, 1, 0, 2]);
  assert.deepEqual(d.cycles, [5, 6, 7, 8]);
  assert.deepEqual(d.differing.map((x) => x.index), [1]);
  assert.deepEqual(d.differing[0]!.device, [1, 9, 2]);
  assert.deepEqual(d.differing[0]!.host, [1, 9, 1]);
  assert.deepEqual([...Buffer.from(d.differing[0]!.pixels, 'base64')], [4, 5, 6, 7]);
  assert.deepEqual(d.misclassified.map((x) => x.index), [2]);
  const noTflite = validationDetail({ outputs: { count: 4, width: 3, device, reference: device, tflite: null, cycles: new Uint32Array(4) }, labels: Uint8Array.from([0, 1, 1, 2]), images, inSize: 4 });
  assert.equal(noTflite.host, 'reference');
  assert.deepEqual(noTflite.differing, []);
  assert.equal(noTflite.floatTop1, null);
});

/** A validation.json as validate writes it, for a model whose .tflite has CRC `crc`. */
function fakeValidation(crc: string, samples: number) {
  const labels = Array.from({ length: samples }, (_, s) => s % 10);
  const deviceTop1 = labels.map((l, s) => (s % 7 === 0 ? (l + 1) % 10 : l));
  const cycles = labels.map((_, s) => 40_000 + ((s * 97) % 400));
  const pixels = Buffer.from(Uint8Array.from({ length: 784 }, (_, i) => ((i % 28) * 9) & 0xff)).toString('base64');
  const example = (index: number) => ({ index, label: labels[index], device: [-128, -120, 90, -128, -128, -128, -100, -128, -128, -128], host: [-128, -120, 91, -128, -128, -128, -101, -128, -128, -128], pixels });
  const p = { p50: 40_200, p90: 40_360, p99: 40_396, max: 40_399 };
  return {
    samples,
    board: 'emulator',
    runtime: 'native',
    cycleUnit: 'emulated-instructions',
    modelCrc32: crc,
    deviceAccuracy: 0.857,
    referenceAccuracy: 0.857,
    hostInt8Accuracy: 0.857,
    hostInt8Skipped: null,
    hostFloatAccuracy: 0.86,
    top1Agreement: 1,
    exactAgreement: 1,
    firstMismatches: [],
    latencyCycles: p,
    latencyMicros: { p50: 628.1, p90: 630.6, p99: 631.2, max: 631.2 },
    passed: true,
    info: { board: 'mps2-an386 (QEMU)' },
    detail: { host: 'tflite', labels, deviceTop1, hostTop1: deviceTop1, floatTop1: labels, cycles, differing: [example(0), example(7)], misclassified: [example(7)] },
  };
}

describe('tinyml report --model DIR', () => {
  let work: string;
  let dir: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tinyml-report-'));
    dir = join(work, 'm');
    const { bytes } = await writeInt8ModelFolder(dir, [16], 3);
    const crc = crc32Hex(crc32(bytes));
    const epochs = [1, 2, 3].map((epoch) => ({ epoch, loss: 1 / epoch, accuracy: 0.7 + epoch / 20, seconds: 1 }));
    await writeFile(join(dir, 'metrics.json'), JSON.stringify({ name: HOSTILE, hidden: [16], normalized: true, seed: 3, epochs, testAccuracy: 0.84, seconds: 3, backend: 'wasm', dataset: { train: { sha256: 'a'.repeat(64), count: 60000 }, test: { sha256: 'b'.repeat(64), count: 10000 } } }));
    await writeFile(join(dir, 'evaluation.json'), JSON.stringify({ samples: 10000, floatAccuracy: 0.86, int8Accuracy: 0.858, tfliteAccuracy: 0.858, testDataSha256: 'b'.repeat(64) }));
    await writeFile(join(dir, 'validation.json'), JSON.stringify(fakeValidation(crc, 200)));
  });

  test('writes one self-contained page with every section, all text escaped', async () => {
    const r = await tinyml(['report', '--model', dir, '--json'], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.report, join(dir, 'report.html'));
    assert.deepEqual(out.found, { metrics: true, evaluation: true, validation: true });
    assert.equal(out.deviceAccuracy, 0.857);
    const html = await readFile(out.report, 'utf8');
    assert.ok(!html.includes('<script'), 'no script element: the hostile name must be escaped');
    assert.ok(html.includes(escapeHtml(HOSTILE)));
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'nothing is fetched from a network');
    for (const heading of ['Stages', 'Accuracy', 'Training', 'Memory on the Arduino Nano 33 BLE Sense', 'On the device', 'Provenance']) {
      assert.ok(html.includes(`<h2>${heading}</h2>`), `section ${heading}`);
    }
    assert.ok((html.match(/<svg /g) ?? []).length >= 6, 'charts are inline SVG');
    assert.ok(html.includes('Confusion matrix: device') && html.includes('Confusion matrix: host TFLite int8'));
    assert.ok(html.includes('data:image/png;base64,'), 'disagreeing samples drawn');
    assert.ok(html.includes('a'.repeat(64)) && html.includes('983,040') && html.includes('262,144'));
  });

  test('renders in headless Chromium: something drawn, no console message', { skip: CHROMIUM ? false : 'needs chromium (npm test installs it as root)', timeout: 120_000 }, async () => {
    const shot = await screenshot(join(dir, 'report.html'));
    assert.deepEqual(shot.console, [], 'the page logged to the console');
    const stats = pictureStats(decodePng(shot.png));
    assert.ok(stats.nonWhite > 50_000, `only ${stats.nonWhite} non-white pixels`);
    assert.ok(stats.colours > 50, `only ${stats.colours} colours`);
  });

  test('the Chromium check fails on a page with a JavaScript error', { skip: CHROMIUM ? false : 'needs chromium', timeout: 120_000 }, async () => {
    const bad = join(work, 'bad.html');
    await writeFile(bad, '<!DOCTYPE html><html><body><p>x</p><script>null.x()</script></body></html>');
    const shot = await screenshot(bad);
    assert.ok(shot.console.some((l) => l.includes('Uncaught TypeError')), `console was: ${shot.console.join('\n')}`);
  });

  test('a folder with only the .tflite still gets a report; a folder without one is an error', async () => {
    const bare = join(work, 'bare');
    await writeInt8ModelFolder(bare, [8], 4);
    const r = await tinyml(['report', '--model', bare], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no metrics\.json, evaluation\.json, validation\.json/);
    assert.match(await readFile(join(bare, 'report.html'), 'utf8'), /No stage ran on a device/);
    assertOneLineError(await tinyml(['report', '--model', join(work, 'nothing')], { cwd: work }), /model_int8\.tflite is missing/);
  });

  test('a validation.json for another .tflite is left out', async () => {
    const other = join(work, 'other');
    await writeInt8ModelFolder(other, [8], 5);
    await writeFile(join(other, 'validation.json'), JSON.stringify(fakeValidation('00000000', 20)));
    const r = await tinyml(['report', '--model', other, '--json'], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).found.validation, false);
  });
});
