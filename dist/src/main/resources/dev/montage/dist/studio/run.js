// Running a generation: submit, the queue position, live progress (step i/N, ETA) and previews from the event
// stream, cancel, and the finished result with its parameters and downloads.

import { formatSettings } from './dom.js';

const $ = (id) => document.getElementById(id);
const POSITION_POLL_MS = 2000;

function seconds(s) {
  if (s === undefined || s === null) {
    return '';
  }
  return s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export class Runner {
  /**
   * @param api        the API client
   * @param onFinished called with the generation's view when a run succeeded
   */
  constructor(api, onFinished) {
    this.api = api;
    this.onFinished = onFinished;
    this.current = null;
    this.urls = [];
    $('cancel').addEventListener('click', () => this.cancel());
  }

  status(text) {
    $('run-status').textContent = text;
  }

  /** Submits a request; rejects with the ApiError of a refused one. */
  async submit(request) {
    const submitted = await this.api.json('POST', '/v1/generations', request);
    this.follow(submitted.id, submitted.position);
    return submitted.id;
  }

  async follow(id, position) {
    this.current?.abort.abort();
    const run = { id, abort: new AbortController(), ended: false, position };
    this.current = run;
    $('cancel').hidden = false;
    $('run-preview').hidden = true;
    const progress = $('run-progress');
    progress.hidden = false;
    progress.removeAttribute('value');
    this.queued(run, position);
    const poll = setInterval(() => this.pollPosition(run), POSITION_POLL_MS);
    try {
      await this.api.events(id, (type, data) => this.event(run, type, data), run.abort.signal);
    } catch (e) {
      if (!run.abort.signal.aborted) {
        this.status(`Lost the event stream: ${e.message}`);
      }
    } finally {
      clearInterval(poll);
    }
  }

  queued(run, position) {
    run.position = position;
    this.status(position > 1 ? `Queued, position ${position}` : 'Queued, next to run');
  }

  async pollPosition(run) {
    if (run.started || run.ended) {
      return;
    }
    const view = await this.api.json('GET', `/v1/generations/${encodeURIComponent(run.id)}`);
    if (!run.started && view.state === 'queued' && view.position) {
      this.queued(run, view.position);
    }
  }

  event(run, type, data) {
    if (run !== this.current) {
      return;
    }
    const progress = $('run-progress');
    switch (type) {
      case 'queued':
        this.queued(run, data.position);
        break;
      case 'started':
        run.started = true;
        this.status(`Started: ${data.total} steps`);
        break;
      case 'progress': {
        run.started = true;
        progress.max = data.total;
        progress.value = data.step;
        const eta = data.etaSeconds !== undefined ? ` · ETA ${seconds(data.etaSeconds)}` : '';
        const elapsed = data.elapsedSeconds !== undefined ? ` · ${seconds(data.elapsedSeconds)} so far` : '';
        this.status(`Step ${data.step}/${data.total}${eta}${elapsed}`);
        break;
      }
      case 'preview':
        $('run-preview').src = data.image;
        $('run-preview').hidden = false;
        break;
      case 'finished':
        this.ended(run, `Finished in ${seconds(data.seconds)}`);
        this.api.json('GET', `/v1/generations/${encodeURIComponent(run.id)}`).then((view) => {
          this.show(view);
          this.onFinished(view);
        });
        break;
      case 'failed':
        this.ended(run, `Failed: ${data.reason}`);
        break;
      case 'cancelled':
        this.ended(run, `Cancelled${data.reason ? `: ${data.reason}` : ''}`);
        break;
      default:
        break;
    }
  }

  ended(run, text) {
    run.ended = true;
    this.status(text);
    $('cancel').hidden = true;
    $('run-progress').hidden = true;
    $('run-preview').hidden = true;
  }

  async cancel() {
    if (this.current && !this.current.ended) {
      try {
        await this.api.json('DELETE', `/v1/generations/${encodeURIComponent(this.current.id)}`);
      } catch (e) {
        this.status(`Could not cancel: ${e.message}`);
      }
    }
  }

  /** Shows a finished generation: its pictures (with downloads) and its parameters. */
  async show(view) {
    this.urls.forEach((u) => URL.revokeObjectURL(u));
    this.urls = [];
    const images = $('result-images');
    images.replaceChildren();
    for (const [n, path] of view.images.entries()) {
      const url = URL.createObjectURL(await this.api.blob(path));
      this.urls.push(url);
      const figure = document.createElement('figure');
      const img = document.createElement('img');
      img.src = url;
      img.className = 'result-image';
      img.alt = `Result ${n + 1} of ${view.id}: ${view.parameters?.prompt ?? ''}`;
      const link = document.createElement('a');
      link.href = url;
      link.download = `${view.id}-${n}.png`;
      link.textContent = `Download ${view.id}-${n}.png`;
      figure.append(img, link);
      images.append(figure);
    }
    const p = view.parameters ?? {};
    const rows = [['Id', view.id], ['Prompt', p.prompt], ['Size', `${p.width}×${p.height}`], ['Steps', p.steps],
      ['Guidance', p.guidance], ['Scheduler', Object.keys(p.schedulerOptions ?? {}).length
        ? `${p.scheduler} (${formatSettings(p.schedulerOptions)})` : p.scheduler], ['Seed', p.seed],
      ...(p.initImage ? [['From a picture', `strength ${p.initImage.strength}${p.initImage.mask ? ', masked' : ''}`]]
        : []),
      ...(p.variation ? [['Variation', `seed ${p.variation.seed}, strength ${p.variation.strength}`]] : []),
      ...(p.seedResizeFrom ? [['Seed resize from', `${p.seedResizeFrom.width}×${p.seedResizeFrom.height}`]] : []),
      ...(p.perturbedAttention ? [['Perturbed-attention guidance', `scale ${p.perturbedAttention.scale}`
        + (p.perturbedAttention.adaptiveScale ? `, adaptive ${p.perturbedAttention.adaptiveScale}` : '')
        + `, layers ${p.perturbedAttention.layers.join(', ')}`]] : []),
      ...(p.hires ? [['Hires pass', `${p.hires.width}×${p.hires.height}, strength ${p.hires.strength}, `
        + `${p.hires.steps || p.steps} steps, ${p.hires.upscaler}`
        + (p.hires.scheduler ? `, ${p.hires.scheduler}` + (Object.keys(p.hires.schedulerOptions ?? {}).length
          ? ` (${formatSettings(p.hires.schedulerOptions)})` : '') : '')
        + (p.hires.guidance ? `, guidance ${p.hires.guidance}` : '')
        + (p.hires.prompt !== undefined ? `, prompt “${p.hires.prompt}”` : '')]] : []),
      ['Subjects', (p.subjects ?? []).map((s) => `${s.phrase ?? '—'}${s.box ? ` [${s.box.join(', ')}]` : ''}`)
        .join('; ') || 'none'],
      ['Controls', (p.controls ?? []).map((c) => `${c.type} ×${c.scale}`).join('; ') || 'none']];
    $('result-parameters').replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v ?? '';
      return [dt, dd];
    }));
    $('result').hidden = false;
  }
}
