// The LoRAs of a request: the server's LoRA files (GET /v1/models), each with its scale, sent as "loras" and loaded
// back from a result's parameters, so that a reopened request shows every LoRA it runs with.

import { button, labelled, listCard } from './dom.js';

const $ = (id) => document.getElementById(id);
let nextKey = 1;

export class Loras {
  constructor() {
    this.names = [];
    this.list = [];
    $('add-lora').addEventListener('click', () => this.add($('lora-name').value));
  }

  /** The LoRA files the server offers. */
  setNames(names) {
    this.names = names;
    $('lora-name').replaceChildren(...names.map((n) => new Option(n, n)));
    this.render();
  }

  add(name, scale = 1) {
    this.list.push({ key: nextKey++, name, scale });
    this.render();
  }

  request() {
    return this.list.map(({ name, scale }) => ({ name, scale }));
  }

  load(loras) {
    this.list = [];
    loras.forEach(({ name, scale }) => this.add(name, scale));
    this.render();
  }

  /** Shown where the server offers LoRAs, or a reopened request has some. */
  render() {
    $('lora-group').hidden = this.names.length === 0 && this.list.length === 0;
    $('add-lora').disabled = this.names.length === 0;
    $('loras').replaceChildren(...this.list.map((l, i) => this.card(l, i)));
  }

  card(l, i) {
    const path = `loras[${i}]`;
    const li = listCard('lora', path, l.key);

    const title = document.createElement('h3');
    title.textContent = `${i + 1}. ${l.name}`;
    title.dataset.field = `${path}.name`;

    const [scale, scaleInput] = labelled('number', `lora-${l.key}-scale`, 'Scale', l.scale, `${path}.scale`);
    scaleInput.step = '0.05';
    scaleInput.addEventListener('input', () => {
      l.scale = Number(scaleInput.value);
    });

    const remove = button('Remove', () => {
      this.list = this.list.filter((x) => x !== l);
      this.render();
    }, `Remove LoRA ${i + 1}`);

    li.append(title, scale);
    if (!this.names.includes(l.name)) {
      const missing = document.createElement('p');
      missing.className = 'hint';
      missing.textContent = 'This server does not offer this LoRA.';
      li.append(missing);
    }
    li.append(remove);
    return li;
  }
}
