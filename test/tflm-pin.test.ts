/**
 * The TFLM library pin: git object ids computed as git computes them (git itself
 * is the oracle), and the names the pin is given in output and in the sketch.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkLibraryPin, gitBlobId, gitTreeId, pinLabel, pinnedGitUrl, pinnedZipUrl, runtimeVersion, TFLM_LIBRARY_PIN } from '../src/firmware-build/tflm-pin.ts';

test('gitTreeId and gitBlobId equal git write-tree and hash-object, git\'s name order included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-pin-'));
  try {
    // "a.h" < "a/" < "a0" in git's order (a folder sorts as its name plus '/'), unlike plain name order.
    const files: Record<string, string> = {
      'src/a.h': 'x\n',
      'src/a/b.cpp': 'int b;\n',
      'src/a0': '',
      'src/A.h': 'upper\n',
      'src/deep/er/still.c': '\x00\x01binary\xff',
      'library.properties': 'name=Arduino_TensorFlowLite\nversion=2.4.0-ALPHA\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), text, 'latin1');
    }
    await mkdir(join(dir, 'src', 'empty', 'nested'), { recursive: true }); // git records no empty folder
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
    git('init', '-q');
    git('add', '-A');
    const tree = git('write-tree');
    assert.equal(await gitTreeId(join(dir, 'src')), git('rev-parse', `${tree}:src`));
    assert.equal(gitBlobId(Buffer.from(files['library.properties']!)), git('rev-parse', `${tree}:library.properties`));
    assert.equal(await gitTreeId(join(dir, 'src', 'empty')), null);

    const check = await checkLibraryPin(dir);
    assert.equal(check.matches, false);
    assert.equal(check.srcTree, git('rev-parse', `${tree}:src`));
    const pin = { ...TFLM_LIBRARY_PIN, srcTree: check.srcTree!, propertiesBlob: check.propertiesBlob! };
    assert.equal((await checkLibraryPin(dir, pin)).matches, true);
    assert.equal((await checkLibraryPin(join(dir, 'missing'), pin)).matches, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the pin is named the same way everywhere', () => {
  assert.equal(TFLM_LIBRARY_PIN.commit, '7948b85e020470a30a83bf00e10fc43b486bfcba');
  assert.equal(pinLabel(), 'tflite-micro-arduino-examples@7948b85');
  assert.equal(pinnedGitUrl(), 'https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba');
  assert.equal(pinnedZipUrl(), 'https://github.com/tensorflow/tflite-micro-arduino-examples/archive/7948b85e020470a30a83bf00e10fc43b486bfcba.zip');
  assert.equal(runtimeVersion('native'), 'native');
  assert.equal(runtimeVersion('tflm'), 'tflm tflite-micro-arduino-examples@7948b85');
  assert.equal(runtimeVersion('tflm', { version: '2.4.0-ALPHA', matchesPin: true }), 'tflm tflite-micro-arduino-examples@7948b85');
  assert.equal(runtimeVersion('tflm', { version: '2.4.0-ALPHA', matchesPin: false }), 'tflm Arduino_TensorFlowLite@2.4.0-ALPHA (not 7948b85)');
});
