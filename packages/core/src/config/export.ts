import { IsIn } from 'class-validator';

export const EXPORT_ENCODER_CHOICES = ['online', 'target', 'best'] as const;
export type ExportEncoderChoice = (typeof EXPORT_ENCODER_CHOICES)[number];

/**
 * The `export:` section: what `selfsup train` writes to `<runDir>/export/encoder` at the end.
 *
 * ```yaml
 * export:
 *   encoder: best   # online | target | best
 * ```
 */
export class ExportConfig {
  /**
   * `online`: the trained (online) encoder; `target`: the method's target (EMA) encoder, for
   * methods that have one (BYOL's `target_encoder`); `best`: whichever has the higher final
   * kNN accuracy on the val data (`knn_acc` vs `knn_acc_target`; online on ties, and online
   * when there is no target or no labelled val data to decide with).
   */
  @IsIn(EXPORT_ENCODER_CHOICES)
  encoder: ExportEncoderChoice = 'best';
}
