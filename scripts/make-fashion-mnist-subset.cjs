#!/usr/bin/env node
// Regenerates packages/core/assets/fashion-mnist-subset: a class-balanced subset of the
// official Fashion-MNIST train and test splits, small enough to commit, so the default
// example trains without a download. Deterministic: same source files → same bytes.
//
//   node scripts/make-fashion-mnist-subset.cjs [sourceDir] [outDir]
//
// sourceDir defaults to /usr/share/datasets/fashion-mnist (Debian `dataset-fashion-mnist`).
// Uses only Node built-ins.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');

const SEED = 'selfsup-fashion-mnist-subset-v1';
const PER_CLASS = { train: 600, t10k: 1000 }; // the whole test split: 10k queries measure kNN to ±0.4 points, 1k only to ±1.4
const NUM_CLASSES = 10;
const root = path.resolve(__dirname, '..');
const sourceDir = path.resolve(process.argv[2] || '/usr/share/datasets/fashion-mnist');
const outDir = path.resolve(process.argv[3] || path.join(root, 'packages/core/assets/fashion-mnist-subset'));

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function readIdx(file, ndims) {
  const packed = fs.readFileSync(file);
  const raw = packed[0] === 0x1f && packed[1] === 0x8b ? zlib.gunzipSync(packed) : packed;
  if (raw[0] !== 0 || raw[1] !== 0 || raw[2] !== 0x08 || raw[3] !== ndims) {
    throw new Error(`${file}: magic 0x${raw.readUInt32BE(0).toString(16)}, expected 0x0000080${ndims}`);
  }
  const dims = [];
  for (let i = 0; i < ndims; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * ndims;
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== header + count) throw new Error(`${file}: ${raw.length - header} data bytes, header declares ${count}`);
  return { dims, data: raw.subarray(header), packedSha: sha256(packed), rawSha: sha256(raw), name: path.basename(file) };
}

function writeIdx(file, data, dims) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([header, Buffer.from(data)]);
  // Node writes a zero mtime in the gzip header, so the output depends on content only.
  const packed = zlib.gzipSync(raw, { level: 9 });
  fs.writeFileSync(file, packed);
  return { name: path.basename(file), packedSha: sha256(packed), rawSha: sha256(raw), bytes: packed.length };
}

// Selection without a PRNG implementation to reproduce: within each class, keep the
// examples whose SHA-256("<seed>:<split>:<index>") sorts first.
function select(prefix, labels) {
  const byClass = Array.from({ length: NUM_CLASSES }, () => []);
  labels.forEach((label, index) => byClass[label].push({ index, key: sha256(`${SEED}:${prefix}:${index}`) }));
  const chosen = [];
  byClass.forEach((members, label) => {
    if (members.length < PER_CLASS[prefix]) throw new Error(`${prefix}: class ${label} has only ${members.length} examples`);
    members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    chosen.push(...members.slice(0, PER_CLASS[prefix]).map((m) => m.index));
  });
  // Official order (ascending index), which interleaves the classes like the full split.
  return chosen.sort((a, b) => a - b);
}

function makeSplit(prefix) {
  const images = readIdx(path.join(sourceDir, `${prefix}-images-idx3-ubyte.gz`), 3);
  const labels = readIdx(path.join(sourceDir, `${prefix}-labels-idx1-ubyte.gz`), 1);
  if (images.dims[0] !== labels.dims[0]) throw new Error(`${prefix}: ${images.dims[0]} images vs ${labels.dims[0]} labels`);
  const [, h, w] = images.dims;
  const indices = select(prefix, labels.data);
  const outImages = new Uint8Array(indices.length * h * w);
  const outLabels = new Uint8Array(indices.length);
  indices.forEach((src, i) => {
    outImages.set(images.data.subarray(src * h * w, (src + 1) * h * w), i * h * w);
    outLabels[i] = labels.data[src];
  });
  const written = [
    writeIdx(path.join(outDir, `${prefix}-images-idx3-ubyte.gz`), outImages, [indices.length, h, w]),
    writeIdx(path.join(outDir, `${prefix}-labels-idx1-ubyte.gz`), outLabels, [indices.length]),
  ];
  return { prefix, sources: [images, labels], written, indices, total: images.dims[0] };
}

fs.mkdirSync(outDir, { recursive: true });
const splits = [makeSplit('train'), makeSplit('t10k')];
fs.writeFileSync(
  path.join(outDir, 'indices.json'),
  '{\n' + splits.map((s) => `  "${s.prefix}": [${s.indices.join(',')}]`).join(',\n') + '\n}\n',
);

const row = (f) => `| \`${f.name}\` | \`${f.packedSha}\` | \`${f.rawSha}\` |`;
const provenance = `# Provenance of the embedded Fashion-MNIST subset

A class-balanced subset of the **official** Fashion-MNIST splits (Xiao, Rasul, Vollgraf 2017,
https://github.com/zalandoresearch/fashion-mnist), MIT License, © 2017 Zalando SE (see LICENSE).

| split | source examples | kept | per class |
|---|---|---|---|
${splits.map((s) => `| ${s.prefix === 'train' ? 'train' : 'test (t10k)'} | ${s.total} | ${s.indices.length} | ${PER_CLASS[s.prefix]} |`).join('\n')}

## Source files

Read from \`${sourceDir}\` (Debian package \`dataset-fashion-mnist\`, version
0.0~git20200523.55506a9-1). Debian re-compressed the upstream files (the gzip headers carry
the packaging date), so the .gz checksums differ from the MD5s in the upstream README; the
checksums of the decompressed IDX data are given as well.

| file | sha256 (.gz) | sha256 (decompressed) |
|---|---|---|
${splits.flatMap((s) => s.sources).map(row).join('\n')}

## Selection

Within each class of each split, the examples whose SHA-256 of the string
\`${SEED}:<split>:<index>\` (split = \`train\` or \`t10k\`, index = position in the official file,
from 0) sorts lowest (as lowercase hex) are kept; the kept examples are written in their
official order. \`indices.json\` lists the kept official indices per split. No pixel or
label is modified; the files are IDX (magic 0x00000803 / 0x00000801), gzip level 9.

## Generated files

| file | sha256 (.gz) | sha256 (decompressed) |
|---|---|---|
${splits.flatMap((s) => s.written).map(row).join('\n')}

## Regenerate

\`\`\`
node scripts/make-fashion-mnist-subset.cjs            # reads /usr/share/datasets/fashion-mnist
\`\`\`

The decompressed checksums must match; the .gz ones can differ only if Node's zlib changes.
`;
fs.writeFileSync(path.join(outDir, 'PROVENANCE.md'), provenance);

const license = `MIT License

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;
fs.writeFileSync(path.join(outDir, 'LICENSE'), license);

for (const s of splits) for (const f of s.written) console.log(`${path.join(outDir, f.name)}  ${f.bytes} bytes  sha256 ${f.packedSha}`);
