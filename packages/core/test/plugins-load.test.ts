import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile, resolveConfig, toYaml } from '../src/config';
import { isPathSpec, loadPlugins, PluginLoadError } from '../src/plugins/load';
import { plugins } from '../src/plugins/registry';
import { createRun } from '../src/plugins/run';

const fixtures = path.join(__dirname, 'fixtures', 'plugin-demo');
const demoConfig = path.join(fixtures, 'configs', 'demo.yaml');

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('plugins', () => {
  it('tells paths from module names', () => {
    expect(['./x', '../x', '.', '..', '/abs/x'].map(isPathSpec)).toEqual([true, true, true, true, true]);
    expect(['selfsup-plugin-x', '@scope/plugin', 'x/y'].map(isPathSpec)).toEqual([false, false, false]);
  });

  it('a plugin package listed under plugins: makes its method and callback resolvable', async () => {
    expect(plugins.hasMethod('demo-method')).toBe(false);
    const plain = loadConfigFile(demoConfig);
    const resolved = await resolveConfig(plain); // the file travels with the plain config
    expect(resolved.plugins).toEqual([
      { spec: '..', resolved: path.join(fixtures, 'index.ts'), methods: ['demo-method'], callbacks: ['demo-beep'] },
    ]);
    expect(resolved.name).toBe('demo');
    expect(resolved.method.name).toBe('demo-method');
    expect((resolved.methodConfig as { model: { width: number } }).model.width).toBe(8);
    // The listed entry keeps its options; the method's default entry (every: 2) is not added again.
    expect(resolved.callbacks.map((c) => [c.name, { ...c.options }])).toEqual([['demo-beep', { every: 3, sound: 'boop' }]]);

    // Written into a run directory, the resolved config must still find the plugin.
    const plain2 = parse(toYaml(resolved));
    expect(plain2.plugins).toEqual([path.join(fixtures, 'index.ts')]);
    expect((await resolveConfig(plain2, { baseDir: '/' })).toPlain()).toEqual(plain2);

    const run = createRun(resolved);
    try {
      expect(run.experiment.constructor.name).toBe('DemoExperiment');
      expect(run.callbacks).toHaveLength(1);
      const beep = run.callbacks[0] as unknown as { name: string; order: number; options: { every: number } };
      expect(beep.name).toBe('demo-beep');
      expect(beep.order).toBe(plugins.callback('demo-beep').order);
      expect(beep.options.every).toBe(3);
    } finally {
      await run.dispose();
    }
  });

  it('loading the same plugin again is harmless and registers nothing new', async () => {
    await loadPlugins(['..'], { baseDir: path.join(fixtures, 'configs') });
    const again = await loadPlugins([fixtures], { baseDir: '/' });
    expect(again).toEqual([{ spec: fixtures, resolved: path.join(fixtures, 'index.ts'), methods: [], callbacks: [] }]);
  });

  it("a listed default callback keeps the method's values for the keys it does not set", async () => {
    // demo-method's default entry is { name: demo-beep, every: 2 }.
    const resolved = await resolveConfig(loadConfigFile(demoConfig, ['callbacks[0]={ name: demo-beep, sound: beep }']));
    expect(resolved.callbacks.map((c) => [c.name, c.from, { ...c.options }])).toEqual([['demo-beep', 'config', { every: 2, sound: 'beep' }]]);
  });

  it("the plugin's own option rules apply to config entries", async () => {
    const plain = loadConfigFile(demoConfig, ['callbacks[demo-beep].sound=honk', 'model.width=0']);
    const err = await rejection(resolveConfig(plain));
    expect(err.message).toContain(`${demoConfig}: callbacks[0].sound = "honk": sound must be one of the following values: beep, boop (from --set callbacks[demo-beep].sound=honk)`);
    expect(err.message).toContain(`${demoConfig}: model.width = 0: width must not be less than 1 (from --set model.width=0)`);
  });

  it('a plugin path that does not exist names the spec, the cause and what to check', async () => {
    const err = await rejection(loadPlugins(['./no-such-plugin'], { baseDir: fixtures }));
    expect(err).toBeInstanceOf(PluginLoadError);
    expect((err as PluginLoadError).spec).toBe('./no-such-plugin');
    expect(err.message).toMatch(/^plugin "\.\/no-such-plugin" failed to load from .*no-such-plugin: .+; check the path \(relative to .*plugin-demo\)$/);
  });

  it('a module name that is not installed says to install it', async () => {
    const err = await rejection(loadPlugins(['selfsup-plugin-not-installed'], { baseDir: fixtures }));
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.message).toContain('plugin "selfsup-plugin-not-installed" failed to load');
    expect(err.message).toContain('install it (npm install selfsup-plugin-not-installed) or give a path relative to the config file');
  });

  it("a plugin whose dependency is missing blames the dependency, not the plugins: entry", async () => {
    const err = await rejection(loadPlugins(['./missing-dep.ts'], { baseDir: fixtures }));
    expect(err.message).toContain("selfsup-demo-dependency-not-installed");
    expect(err.message).toContain('the module threw while loading; fix the plugin or remove it from plugins:');
    expect(err.message).not.toContain('npm install');
  });

  it('a plugin that throws while loading is reported with its error, and from a config with file and line', async () => {
    const err = await rejection(loadPlugins(['./broken.ts'], { baseDir: fixtures }));
    expect(err.message).toContain('plugin "./broken.ts" failed to load from');
    expect(err.message).toContain('demo plugin cannot start: libdemo.so not found; the module threw while loading');
    expect((err as PluginLoadError).cause).toBeInstanceOf(Error);

    const plain = { method: 'demo-method', data: { name: 'mnist' }, plugins: ['..', '../broken.ts'] };
    const fromConfig = await rejection(resolveConfig(plain, { file: demoConfig }));
    expect(fromConfig.message).toMatch(new RegExp(`^${demoConfig.replace(/[.]/g, '\\.')}: plugins\\[1\\]: plugin "\\.\\./broken\\.ts" failed to load`));
  });
});
