/**
 * Training progress for the terminal, as the notes' tqdm bar: a live bar per epoch with the loss,
 * images/s and ETA on a TTY; one plain line per epoch (and every few batches) otherwise; nothing with
 * --json. All on stderr, so stdout stays clean for JSON.
 */
import * as cliProgress from 'cli-progress';
import type { EpochMetrics, TrainCallbacks } from '../train/trainer';

export function progressCallbacks(mode: 'tty' | 'plain' | 'quiet', shouldStop: () => boolean): TrainCallbacks {
  const cb: TrainCallbacks = { shouldStop };
  if (mode === 'quiet') return cb;
  const write = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  const epochLine = (m: EpochMetrics & { best: boolean }) =>
    `[epoch ${m.epoch}] train_loss: ${m.trainLoss.toFixed(3)}  val_loss: ${m.valLoss.toFixed(3)}  val_accuracy: ${m.valAccuracy.toFixed(3)}` +
    `  ${m.imagesPerSec.toFixed(1)} img/s  ${m.seconds.toFixed(0)} s${m.best ? '  (best, saved)' : ''}`;
  if (mode === 'plain') {
    let lastLine = 0;
    cb.onBatchEnd = (b) => {
      const now = Date.now();
      if (now - lastLine > 10_000 || b.step === b.steps) {
        lastLine = now;
        write(`train epoch[${b.epoch}] step ${b.step}/${b.steps} loss: ${b.loss.toFixed(3)} ${b.imagesPerSec.toFixed(1)} img/s`);
      }
    };
    cb.onEpochEnd = (m) => {
      write(epochLine(m));
    };
    return cb;
  }
  let bar: cliProgress.SingleBar | null = null;
  cb.onEpochStart = ({ epoch, epochs, steps }) => {
    bar = new cliProgress.SingleBar(
      {
        format: `train epoch[${epoch}/${epochs}] {bar} {value}/{total} loss: {loss} | {ips} img/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(steps, 0, { loss: '-', ips: '-' });
  };
  cb.onBatchEnd = (b) => bar?.update(b.step, { loss: b.loss.toFixed(3), ips: b.imagesPerSec.toFixed(1) });
  cb.onValidation = ({ done, total }) => {
    if (done === 1) {
      bar?.stop();
      bar = null;
    }
    process.stderr.write(`\rvalidating ${done}/${total}${done === total ? '\n' : ''}`);
  };
  cb.onEpochEnd = (m) => {
    bar?.stop();
    bar = null;
    write(epochLine(m));
  };
  return cb;
}
