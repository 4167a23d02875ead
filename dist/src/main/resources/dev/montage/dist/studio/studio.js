// Montage Studio: wires the API client, the composer, the controls, the runner and the gallery to the page.

import { Api, ApiError } from './api.js';
import { Composer } from './compose.js';
import { Controls } from './controls.js';
import { clearErrors, showErrors } from './errors.js';
import { Gallery } from './gallery.js';
import { Loras } from './loras.js';
import { pngText } from './png.js';
import { Runner } from './run.js';

const $ = (id) => document.getElementById(id);

/** Asks for the token in a modal dialog; concurrent refusals share one question. */
function tokenPrompt() {
  let pending = null;
  return (problem) => {
    pending = pending ?? new Promise((resolve) => {
      const dialog = $('token-dialog');
      $('token-problem').textContent = problem;
      $('token-problem').hidden = !problem;
      $('token').value = '';
      const done = () => {
        const token = $('token').value.trim();
        if (!token) {
          return;
        }
        dialog.removeEventListener('close', done);
        pending = null;
        $('change-token').hidden = false;
        resolve(token);
      };
      dialog.addEventListener('close', done);
      dialog.addEventListener('cancel', (e) => e.preventDefault(), { once: true });
      dialog.showModal();
    });
    return pending;
  };
}

/** The defaults this server applies to fields a request leaves out, as its OpenAPI document states them. */
async function defaults() {
  const doc = await (await fetch('/openapi.json')).json();
  const properties = doc.components.schemas.GenerationRequest.properties;
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, v.default]));
}

async function main() {
  const ask = tokenPrompt();
  const api = new Api(ask);
  $('change-token').hidden = !api.token;
  $('change-token').addEventListener('click', async () => {
    api.token = await ask('');
  });
  const pictures = new Map();
  const controls = new Controls(api, pictures);
  const loras = new Loras();
  const composer = new Composer(api, pictures, controls, loras);
  const form = $('compose');
  const runner = new Runner(api, (view) => {
    composer.showSeed(view.parameters.seed);
    gallery.refresh();
  });
  const gallery = new Gallery(api, (view) => {
    composer.load(view.parameters);
    runner.show(view);
  });
  $('open-png').addEventListener('change', async () => {
    const file = $('open-png').files[0];
    if (file) {
      $('server-status').textContent = await openSettings(file, composer, api);
      $('open-png').value = '';
    }
  });

  const [given, models] = await Promise.all([defaults(), api.json('GET', '/v1/models')]);
  const model = models.models[0];
  composer.setDefaults(given, model.schedulers, model.defaultScheduler, model.schedulerDescriptions,
    model.schedulerOptions);
  controls.setTypes(model.controlTypes);
  loras.setNames(model.loras);
  const embeddings = model.embeddings ?? [];
  $('embeddings').hidden = embeddings.length === 0;
  $('embeddings').textContent = `Embeddings a prompt may name: ${embeddings.join(', ')}`;
  $('server-status').textContent = `Model ${model.name}${model.randomWeights ? ' (random weights)' : ''} · `
    + `${model.engine}`;
  gallery.refresh();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    $('generate').disabled = true;
    try {
      await runner.submit(composer.request());
    } catch (error) {
      showErrors(form, error instanceof ApiError ? error.errors : [{ message: error.message }]);
    } finally {
      $('generate').disabled = false;
    }
  });
  document.body.dataset.ready = 'true';
}

/**
 * Loads the request a PNG records into the form and says what it did: a Montage PNG's record, its pictures coming with
 * it where they are uploads of this server; an AUTOMATIC1111 or ComfyUI PNG's settings as the server reads them, with
 * its notes on what it does not run.
 */
async function openSettings(file, composer, api) {
  let texts;
  try {
    texts = await pngText(await file.arrayBuffer());
  } catch (e) {
    return `${file.name}: ${e.message}`;
  }
  if (texts.has('montage')) {
    const record = JSON.parse(texts.get('montage'));
    composer.load(record);
    const pictures = [...(record.subjects ?? []), ...(record.controls ?? []), ...(record.initImage ? [record.initImage]
      : [])].filter((p) => p.uploadId === undefined).length;
    return `Opened the settings of ${file.name}` + (pictures ? `; give its ${pictures} picture(s) again` : '') + '.';
  }
  if (!texts.has('parameters') && !texts.has('prompt')) {
    return `${file.name} records no generation.`;
  }
  let imported;
  try {
    imported = await api.json('POST', '/v1/records', { chunks: Object.fromEntries(texts) });
  } catch (e) {
    return `${file.name}: ${e.message}`;
  }
  composer.load(imported.request);
  return `Opened the ${imported.maker} settings of ${file.name}`
    + (imported.notes.length ? `; ${imported.notes.join('; ')}` : '') + '.';
}

main().catch((e) => {
  $('server-status').textContent = `Could not reach the server: ${e.message}`;
});
