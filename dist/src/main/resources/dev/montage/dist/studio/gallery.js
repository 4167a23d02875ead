// This server's results, newest first: a tile each with its first picture, prompt and seed; opening one shows it
// and loads its full request back into the composer.

const $ = (id) => document.getElementById(id);
const LIMIT = 24;

export class Gallery {
  /**
   * @param api    the API client
   * @param onOpen called with a generation's view when the user opens it
   */
  constructor(api, onOpen) {
    this.api = api;
    this.onOpen = onOpen;
    this.urls = [];
    $('gallery-refresh').addEventListener('click', () => this.refresh());
  }

  async refresh() {
    const answer = await this.api.json('GET', `/v1/generations?state=succeeded&limit=${LIMIT}`);
    const done = answer.generations.filter((g) => g.state === 'succeeded' && g.images.length);
    const tiles = await Promise.all(done.map((g) => this.tile(g)));
    this.urls.forEach((u) => URL.revokeObjectURL(u));
    this.urls = tiles.map((t) => t.url);
    $('gallery').replaceChildren(...tiles.map((t) => t.li));
  }

  async tile(g) {
    const url = URL.createObjectURL(await this.api.blob(g.images[0]));
    const p = g.parameters ?? {};
    const li = document.createElement('li');
    li.className = 'tile';
    li.dataset.id = g.id;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open-result';
    open.setAttribute('aria-label', `Open ${g.id}: ${p.prompt ?? ''} (seed ${p.seed})`);
    const img = document.createElement('img');
    img.src = url;
    img.alt = '';
    open.append(img);
    open.addEventListener('click', async () => {
      this.onOpen(await this.api.json('GET', `/v1/generations/${encodeURIComponent(g.id)}`));
    });
    const caption = document.createElement('p');
    caption.className = 'caption';
    caption.textContent = `${p.prompt ?? ''} · seed ${p.seed} · ${p.width}×${p.height}`;
    const download = document.createElement('a');
    download.href = url;
    download.download = `${g.id}-0.png`;
    download.textContent = 'Download';
    li.append(open, caption, download);
    return { li, url };
  }
}
