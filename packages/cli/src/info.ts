import * as tf from '@tensorflow/tfjs';
import { describeBackends, describeWebgpuAdapters, locateFashionMnist, mnistDataDir, plugins } from '@selfsup/core';
import './context';
import { stdio, type Output } from './context';

/** `selfsup info`: backends, versions, threads, data found, registered plugins. */
export async function info(io: Output = stdio): Promise<void> {
  io.out(`selfsup ${require('../package.json').version} (tfjs ${tf.version.tfjs}, node ${process.version}, ${process.platform}/${process.arch})`);
  io.out('backends:');
  for (const l of describeBackends().split('\n')) io.out(`  ${l}`);
  for (const l of await describeWebgpuAdapters()) io.out(`  ${l}`);
  io.out('data:');
  try {
    const fm = locateFashionMnist({});
    io.out(`  fashion-mnist: ${fm.kind} ${fm.dir}`);
  } catch (e) {
    io.out(`  fashion-mnist: not found (${(e as Error).message})`);
  }
  try {
    io.out(`  mnist: ${mnistDataDir()}`);
  } catch (e) {
    io.out(`  mnist: not found (${(e as Error).message})`);
  }
  io.out(`methods: ${plugins.methodNames().join(', ')}`);
  io.out(`callbacks: ${plugins.callbackNames().join(', ')}`);
}
