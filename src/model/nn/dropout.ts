/** F.dropout(x, p, training): zero with probability p and scale the rest by 1/(1-p); identity in eval. */
import * as tf from '../../tf';
import { ForwardContext } from '../module';

export function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, ctx.nextSeed?.()) as T;
}
