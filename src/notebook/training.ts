/**
 * Training in a lesson (08, 09): a smaller ImageFolder for quick mode, live loss and accuracy charts
 * wired to `trainModel`'s callbacks, and a run's metrics.jsonl read back.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ImageFolder } from '../data/image_folder';
import type { EpochMetrics, TrainCallbacks } from '../train/trainer';
import type { Figure } from './figure';
import { LiveChart } from './plot';

/** The first `perClass` images of each class (in the folder's sorted order): the same subset every run. */
export function subsetFolder(folder: ImageFolder, perClass: number): ImageFolder {
  const taken = new Array<number>(folder.classes.length).fill(0);
  const samples = folder.samples.filter((s) => taken[s.label]++ < perClass);
  return { ...folder, samples };
}

/** A run's metrics.jsonl: one row per epoch ([] when there is none yet). */
export function readMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EpochMetrics);
}

export interface TrainingChartsOptions {
  /** Shown in both titles, e.g. '64 px, batch 8'. */
  label?: string;
  /** Redraw at most this often (ms); the end of an epoch always redraws. Default 500. */
  minIntervalMs?: number;
  /** Start with the curves of an earlier chart (a resumed run drawn in a new cell). */
  continueFrom?: TrainingCharts;
}

/**
 * Two charts that update in place while `trainModel` runs: the loss of every batch with each epoch's
 * mean training loss and validation loss, and the validation accuracy per epoch. x is in epochs
 * (step 3 of 10 in epoch 2 is 1.3), so a resumed run continues the same curves (`continueFrom`).
 *
 *   const charts = new TrainingCharts({ label: '64 px' });
 *   await trainModel({ ..., callbacks: charts.callbacks() });
 *   charts.finish();
 *
 * Jupyter's stop button sends the kernel SIGINT. From construction to finish() the charts listen for it:
 * the callbacks' shouldStop turns true, so training stops after its current step and saves its last
 * state (RUN/last, for resume), and finish() then throws, ending the cell there rather than running its
 * checks on a half-finished run. (tslab alone would only abandon the cell's promise and leave the
 * training loop running in the background: scripts/tslab-kernel.js waits for it to stop.)
 */
export class TrainingCharts {
  readonly batchX: number[] = [];
  readonly batchLoss: number[] = [];
  readonly epochs: (EpochMetrics & { best: boolean })[] = [];
  private status = '';
  private readonly loss: LiveChart;
  private readonly accuracy: LiveChart;
  /** Set by SIGINT (the stop button) while the charts are live. */
  interrupted = false;
  private readonly onInterrupt = (): void => {
    this.interrupted = true;
  };

  constructor(private readonly opts: TrainingChartsOptions = {}) {
    const earlier = opts.continueFrom;
    if (earlier) {
      this.batchX.push(...earlier.batchX);
      this.batchLoss.push(...earlier.batchLoss);
      this.epochs.push(...earlier.epochs);
    }
    const live = { minIntervalMs: opts.minIntervalMs ?? 500 };
    this.loss = new LiveChart(this.lossFigure(), live);
    this.accuracy = new LiveChart(this.accuracyFigure(), live);
    process.on('SIGINT', this.onInterrupt);
  }

  private title(what: string): string {
    const parts = [what, this.opts.label, this.status].filter((s) => s);
    return parts.join(' · ');
  }

  lossFigure(): Figure {
    const ex = this.epochs.map((e) => e.epoch);
    return {
      title: this.title('loss'),
      data: [
        { type: 'scatter', name: 'batch (main + 0.3 aux)', x: this.batchX.slice(), y: this.batchLoss.slice(), mode: 'lines', color: '#9ecae1' },
        { type: 'scatter', name: 'train, epoch mean', x: ex, y: this.epochs.map((e) => e.trainLoss), color: '#1f77b4' },
        { type: 'scatter', name: 'val (main head)', x: ex, y: this.epochs.map((e) => e.valLoss), color: '#ff7f0e' },
      ],
      xaxis: { title: 'epoch' },
      yaxis: { title: 'cross-entropy' },
    };
  }

  accuracyFigure(): Figure {
    return {
      title: this.title('validation accuracy'),
      data: [
        { type: 'scatter', name: 'val accuracy', x: this.epochs.map((e) => e.epoch), y: this.epochs.map((e) => e.valAccuracy), color: '#2ca02c' },
        {
          type: 'scatter',
          name: 'saved as best',
          x: this.epochs.filter((e) => e.best).map((e) => e.epoch),
          y: this.epochs.filter((e) => e.best).map((e) => e.valAccuracy),
          mode: 'markers',
          color: '#d62728',
        },
      ],
      xaxis: { title: 'epoch' },
      yaxis: { title: 'accuracy', range: [0, 1] },
      height: 320,
    };
  }

  /** Callbacks for trainModel (add your own beside them with `{...charts.callbacks(), shouldStop}`). */
  callbacks(): TrainCallbacks {
    return {
      onEpochStart: ({ epoch, epochs }) => {
        this.status = `epoch ${epoch}/${epochs}`;
      },
      onBatchEnd: ({ epoch, step, steps, loss, imagesPerSec }) => {
        this.batchX.push(epoch - 1 + step / steps);
        this.batchLoss.push(loss);
        this.status = `epoch ${epoch}, step ${step}/${steps}, loss ${loss.toFixed(3)}, ${imagesPerSec.toFixed(1)} img/s`;
        void this.loss.update(this.lossFigure());
      },
      onValidation: ({ epoch, done, total }) => {
        this.status = `epoch ${epoch}: validating ${done}/${total}`;
      },
      onEpochEnd: (m) => {
        this.epochs.push(m);
        this.status = `epoch ${m.epoch}: val accuracy ${m.valAccuracy.toFixed(3)}${m.best ? ' (best, saved)' : ''}`;
        this.loss.finish(this.lossFigure());
        this.accuracy.finish(this.accuracyFigure());
      },
      shouldStop: () => this.interrupted,
    };
  }

  /** Draw the final state of both charts and stop listening for the stop button; throws if it was pressed. */
  finish(): void {
    process.removeListener('SIGINT', this.onInterrupt);
    const at = this.batchX.length ? ` at epoch ${this.batchX[this.batchX.length - 1].toFixed(2)}` : '';
    this.status = this.interrupted ? `interrupted${at}` : this.epochs.length ? `${this.epochs.length} epochs` : '';
    this.loss.finish(this.lossFigure());
    this.accuracy.finish(this.accuracyFigure());
    if (this.interrupted) {
      throw new Error(`training interrupted${at} (the stop button): the run folder holds the last state; run the cell again to start over`);
    }
  }
}
