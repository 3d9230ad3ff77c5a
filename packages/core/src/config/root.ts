import { Allow, IsArray, IsNotEmpty, IsObject, IsOptional, IsString, Matches } from 'class-validator';
import { DataConfig } from './data';
import { ExportConfig } from './export';
import { TrainerConfig } from './trainer';
import { Section } from './validate';

/**
 * One entry of `callbacks:`. Only `name` is checked here; the other keys are the callback's
 * options, validated against the options class it registered with.
 */
export class CallbackEntry {
  @IsString()
  @IsNotEmpty()
  name!: string;

  [option: string]: unknown;
}

/** Top-level sections owned by the method and validated by its registered `config` class. */
export const METHOD_SECTIONS = ['model', 'augment', 'optimizer', 'schedule'] as const;
export type MethodSection = (typeof METHOD_SECTIONS)[number];

/** The whole config file. Method sections stay plain here; resolveConfig validates them. */
export class RootConfig {
  /** Run name: the directory under runs/. Defaults to the config file's name. */
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: 'name must start with a letter or digit and use only letters, digits, ".", "_" and "-" (it names the run directory)',
  })
  name: string = 'run';

  /** A registered method (`byol`, or one a plugin adds). */
  @IsString({ message: (a) => (a.value === undefined ? 'method is required: the registered method to train (e.g. byol)' : 'method must be a string') })
  @IsNotEmpty()
  method!: string;

  /** Modules or paths (relative to the config file) imported before anything is resolved. */
  @IsArray()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  plugins: string[] = [];

  @Section(() => TrainerConfig)
  trainer: TrainerConfig = new TrainerConfig();

  @Section(() => DataConfig)
  data!: DataConfig;

  /** Evaluation / validation data (e.g. the labeled split kNN evaluation uses). */
  @Section(() => DataConfig, { optional: true })
  val?: DataConfig;

  /** What `selfsup train` exports at the end (`encoder: online | target | best`). */
  @Section(() => ExportConfig)
  export: ExportConfig = new ExportConfig();

  /** Entries are checked one by one in resolveConfig (their keys depend on the callback). */
  @IsArray()
  @Allow({ each: true })
  callbacks: CallbackEntry[] = [];

  @IsOptional()
  @IsObject()
  model?: Record<string, unknown>;

  @IsOptional()
  @IsObject()
  augment?: Record<string, unknown>;

  @IsOptional()
  @IsObject()
  optimizer?: Record<string, unknown>;

  @IsOptional()
  @IsObject()
  schedule?: Record<string, unknown>;
}
