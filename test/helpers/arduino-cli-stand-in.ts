/**
 * A stand-in `arduino-cli`: a small Node script that accepts exactly the calls
 * tinyml means to make (anything else exits 99 naming the arguments), keeps state
 * in state.json (core and library installed or not), logs every call to
 * calls.jsonl, and answers with the JSON shapes of the real arduino-cli (1.x by
 * default, 0.35 when state.shape is '0.x').
 *
 * `lib install` accepts only the pinned `--git-url URL#COMMIT` (the real one then
 * clones, checks the commit out and drops .git); it writes a small stand-in
 * library (library.properties, src/TensorFlowLite.h, micro_log.h). `upload`
 * can re-enumerate the board in a fake /sys tree (state.reenumerate: the tty
 * entry `from` becomes `to`, as a USB CDC port does after the bootloader), and
 * reports the port arduino-cli 1.x would (updated_upload_port), or none.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pinnedGitUrl } from '../../src/firmware-build/tflm-pin.ts';

export const STAND_IN = (gitUrl: string): string => String.raw`#!/usr/bin/env node
'use strict';
const fs = require('fs');
const path = require('path');
const here = __dirname;
const statePath = path.join(here, 'state.json');
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const args = process.argv.slice(2);
fs.appendFileSync(path.join(here, 'calls.jsonl'), JSON.stringify({
  args,
  unsafe: process.env.ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL || null,
  notify: process.env.ARDUINO_UPDATER_ENABLE_NOTIFICATION || null,
}) + '\n');
const save = () => fs.writeFileSync(statePath, JSON.stringify(state));
const json = (o) => process.stdout.write(JSON.stringify(o, null, 2) + '\n');
const eq = (pattern) => args.length === pattern.length && pattern.every((p, i) => (p instanceof RegExp ? p.test(args[i]) : p === args[i]));
const ABS = /^\//;
const FQBN = 'arduino:mbed_nano:nano33ble';

function platform() {
  if (state.shape === '0.x') {
    return { id: 'arduino:mbed_nano', installed: '4.0.2', latest: '4.0.2', name: 'Arduino Mbed OS Nano Boards', maintainer: 'Arduino',
      website: 'http://www.arduino.cc/', email: 'packages@arduino.cc', boards: [{ name: 'Arduino Nano 33 BLE', fqbn: FQBN }] };
  }
  return { id: 'arduino:mbed_nano', maintainer: 'Arduino', website: 'http://www.arduino.cc/', email: 'packages@arduino.cc', indexed: true,
    releases: { '4.2.1': { name: 'Arduino Mbed OS Nano Boards', version: '4.2.1', types: ['Arduino'], installed: true,
      boards: [{ name: 'Arduino Nano 33 BLE', fqbn: FQBN }, { name: 'Arduino Nano RP2040 Connect', fqbn: 'arduino:mbed_nano:nanorp2040connect' }],
      help: { online: 'https://www.arduino.cc/en/Reference/HomePage' }, compatible: true } },
    installed_version: '4.2.1', latest_version: '4.2.1' };
}
function library() {
  return { library: { name: 'Arduino_TensorFlowLite', author: 'TensorFlow Authors', maintainer: 'Pete Warden <petewarden@google.com>',
    sentence: 'Allows you to run machine learning models locally on your device.', website: 'https://www.tensorflow.org/lite/microcontrollers/overview',
    category: 'Data Processing', architectures: ['*'], install_dir: state.libDir, source_dir: state.libDir + '/src', version: '2.4.0-ALPHA',
    location: 'user', layout: 'recursive', provides_includes: ['TensorFlowLite.h'] }, release: {} };
}

if (eq(['core', 'list', '--format', 'json'])) {
  const list = state.coreInstalled ? [platform()] : [];
  json(state.shape === '0.x' ? list : { platforms: list });
} else if (eq(['core', 'update-index'])) {
  state.indexUpdated = true; save();
  process.stdout.write('Downloading index: package_index.tar.bz2 downloaded\n');
} else if (eq(['core', 'install', 'arduino:mbed_nano'])) {
  if (!state.indexUpdated) { process.stderr.write('Error during install: Platform arduino:mbed_nano not found\n'); process.exit(1); }
  state.coreInstalled = true; save();
  process.stdout.write('Platform arduino:mbed_nano@4.2.1 installed\n');
} else if (eq(['lib', 'list', '--format', 'json'])) {
  const list = state.libInstalled ? [library()] : [];
  json(state.shape === '0.x' ? list : { installed_libraries: list });
} else if (eq(['lib', 'install', '--git-url', '${gitUrl}'])) {
  if (process.env.ARDUINO_LIBRARY_ENABLE_UNSAFE_INSTALL !== 'true') {
    process.stderr.write('--git-url and --zip-path are disabled by default, for more information see: https://arduino.github.io/arduino-cli/latest/configuration/#configuration-keys\n');
    process.exit(1);
  }
  fs.mkdirSync(path.join(state.libDir, 'src/tensorflow/lite/micro'), { recursive: true });
  fs.writeFileSync(path.join(state.libDir, 'library.properties'), 'name=Arduino_TensorFlowLite\nversion=2.4.0-ALPHA\nincludes=TensorFlowLite.h\n');
  fs.writeFileSync(path.join(state.libDir, 'src/TensorFlowLite.h'), '#pragma once\n');
  fs.writeFileSync(path.join(state.libDir, 'src/tensorflow/lite/micro/micro_log.h'), '');
  state.libInstalled = true; save();
  process.stdout.write('Library installed\n');
} else if (eq(['compile', '--fqbn', FQBN, '--build-path', ABS, '--output-dir', ABS, '--format', 'json', ABS]) ||
           eq(['compile', '--fqbn', FQBN, '--build-path', ABS, '--output-dir', ABS, '--format', 'json', '--build-property', 'compiler.c.elf.extra_flags=-Wl,--wrap=DebugLog', ABS])) {
  const [buildPath, outputDir, sketch] = [args[4], args[6], args[args.length - 1]];
  // A TFLM sketch links only with DebugLog wrapped (the library's own would write text on the link).
  if (fs.existsSync(path.join(sketch, 'src', 'runtime_tflm.cpp')) !== args.includes('--build-property')) {
    process.stderr.write('stand-in arduino-cli: a TFLM sketch needs --build-property compiler.c.elf.extra_flags=-Wl,--wrap=DebugLog, and only it\n');
    process.exit(98);
  }
  const name = path.basename(sketch);
  if (!fs.existsSync(path.join(sketch, name + '.ino'))) {
    json({ compiler_out: '', compiler_err: '', builder_result: null, upload_result: {}, success: false,
      error: 'Can\'t open sketch: no valid sketch found in ' + sketch + ': missing ' + path.join(sketch, name + '.ino') });
    process.exit(1);
  }
  if (buildPath.startsWith(sketch + '/')) { process.stderr.write('build path inside the sketch\n'); process.exit(99); }
  if (state.compileFails) {
    json({ compiler_out: '', compiler_err: sketch + '/src/app.c:12:3: error: unknown type name \'tml_nope_t\'\n   12 |   tml_nope_t x;\n      |   ^~~~~~~~~~\n',
      builder_result: null, upload_result: {}, success: false, error: 'Error during build: exit status 1' });
    process.exit(1);
  }
  fs.mkdirSync(buildPath, { recursive: true });
  fs.mkdirSync(outputDir, { recursive: true });
  for (const ext of ['bin', 'hex', 'elf', 'map']) fs.writeFileSync(path.join(outputDir, name + '.ino.' + ext), 'x');
  const text = 198412, data = 52344;
  const out = 'Sketch uses ' + text + ' bytes (20%) of program storage space. Maximum is 983040 bytes.\n' +
    'Global variables use ' + data + ' bytes (19%) of dynamic memory, leaving ' + (262144 - data) + ' bytes for local variables. Maximum is 262144 bytes.\n';
  if (state.shape === 'text') { process.stdout.write(out); process.exit(0); }
  json({ compiler_out: out, compiler_err: '', builder_result: { build_path: buildPath,
    executable_sections_size: [{ name: 'text', size: text, max_size: 983040 }, { name: 'data', size: data, max_size: 262144 }],
    board_platform: { id: 'arduino:mbed_nano', version: '4.2.1' }, build_platform: { id: 'arduino:mbed_nano', version: '4.2.1' } },
    upload_result: {}, success: true });
} else if (eq(['upload', '-p', /^\/dev\//, '--fqbn', FQBN, '--input-dir', ABS, '--format', 'json', ABS])) {
  const [port, inputDir, sketch] = [args[2], args[6], args[9]];
  const bin = path.join(inputDir, path.basename(sketch) + '.ino.bin');
  if (!fs.existsSync(bin)) { json({ error: 'looking for build artifacts: could not find a valid build artifact' }); process.exit(1); }
  if (!state.ports.includes(port)) {
    process.stderr.write('No device found on ' + path.basename(port) + '\n');
    json({ error: 'Failed uploading: uploading error: exit status 1' });
    process.exit(1);
  }
  if (state.reenumerate) {
    const tty = path.join(state.reenumerate.sysRoot, 'class', 'tty');
    fs.renameSync(path.join(tty, state.reenumerate.from), path.join(tty, state.reenumerate.to));
    // A board that comes back as its bootloader (another USB product id) instead of the sketch.
    if (state.reenumerate.productFile) fs.writeFileSync(path.join(state.reenumerate.sysRoot, state.reenumerate.productFile), state.reenumerate.product + '\n');
  }
  const reported = state.reportPort === 'none' ? null : state.newPort || port;
  json({ stdout: 'Device       : nRF52840-QIAA\nVersion      : Arduino Bootloader (SAM-BA extended) 2.0 [Arduino:IKXYZ]\nWrite 198420 bytes to flash (49 pages)\n',
    stderr: '', updated_upload_port: reported && { address: reported, label: reported, protocol: 'serial', protocol_label: 'Serial Port (USB)' } });
} else {
  process.stderr.write('stand-in arduino-cli: unexpected arguments: ' + JSON.stringify(args) + '\n');
  process.exit(99);
}
`;

export interface StandInState {
  shape: '1.x' | '0.x' | 'text';
  coreInstalled: boolean;
  indexUpdated: boolean;
  libInstalled: boolean;
  libDir: string;
  compileFails: boolean;
  ports: string[];
  /** The port updated_upload_port names; default the one uploaded to. */
  newPort?: string;
  /** 'none': no updated_upload_port (arduino-cli did not see the port come back). */
  reportPort?: 'none';
  /** On upload, rename <sysRoot>/class/tty/<from> to <to>. */
  reenumerate?: { sysRoot: string; from: string; to: string; productFile?: string; product?: string };
}


/** Writes the stand-in into `<tmp>/bin/arduino-cli` and returns helpers bound to it. */
export async function installStandIn(tmp: string) {
  const binDir = join(tmp, 'bin');
  await mkdir(binDir, { recursive: true });
  await writeFile(join(binDir, 'arduino-cli'), STAND_IN(pinnedGitUrl()));
  await chmod(join(binDir, 'arduino-cli'), 0o755);
  const setState = async (patch: Partial<StandInState> = {}): Promise<void> => {
    const state: StandInState = {
      shape: '1.x',
      coreInstalled: false,
      indexUpdated: false,
      libInstalled: false,
      libDir: join(tmp, 'Arduino', 'libraries', 'Arduino_TensorFlowLite'),
      compileFails: false,
      ports: ['/dev/ttyACM0'],
      ...patch,
    };
    await writeFile(join(binDir, 'state.json'), JSON.stringify(state));
    await writeFile(join(binDir, 'calls.jsonl'), '');
  };
  const calls = async (): Promise<{ args: string[]; unsafe: string | null; notify: string | null }[]> => {
    const text = await readFile(join(binDir, 'calls.jsonl'), 'utf8');
    return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l));
  };
  await setState();
  return { binDir, cli: join(binDir, 'arduino-cli'), setState, calls };
}
