// The people directory's script: typeahead on the search box (debounced, the superseded
// request aborted), keyboard use (`/` focuses search, arrows move, Enter opens) and the org
// chart's expand / collapse with paged teams. Pages work without it; data is only ever
// inserted as text, never as markup.
'use strict';
(() => {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  // `value` with the character ranges [start, end) wrapped in <mark>.
  const marked = (value, ranges) => {
    const frag = document.createDocumentFragment();
    const chars = Array.from(value || '');
    let i = 0;
    for (const [s, e] of (ranges || []).slice().sort((a, b) => a[0] - b[0])) {
      if (s < i) continue;
      if (s > i) frag.append(chars.slice(i, s).join(''));
      frag.append(el('mark', null, chars.slice(s, e).join('')));
      i = e;
    }
    if (i < chars.length) frag.append(chars.slice(i).join(''));
    return frag;
  };
  const avatar = (p) => el('span', `avatar sm h${p.hue}`, p.initials);
  const live = document.getElementById('live');
  const say = (text) => { if (live) live.textContent = text; };

  // ---- search box ----------------------------------------------------------------------
  const q = document.getElementById('q');
  const list = document.getElementById('suggest');
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || !q) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    e.preventDefault();
    q.focus();
    q.select();
  });
  if (q && list) {
    const page = new URLSearchParams(location.search);
    let timer = 0;
    let pending = null;
    let active = -1;
    let shown = [];
    const options = () => Array.from(list.querySelectorAll('[role=option]'));
    const hide = () => {
      list.hidden = true;
      q.setAttribute('aria-expanded', 'false');
      q.removeAttribute('aria-activedescendant');
      active = -1;
    };
    const highlight = (i) => {
      const opts = options();
      if (!opts.length) return;
      active = (i + opts.length) % opts.length;
      opts.forEach((o, j) => {
        o.classList.toggle('active', j === active);
        o.setAttribute('aria-selected', j === active ? 'true' : 'false');
      });
      q.setAttribute('aria-activedescendant', opts[active].id);
      opts[active].scrollIntoView({ block: 'nearest' });
    };
    const render = (text, data) => {
      list.replaceChildren();
      shown = data.people.map((p) => `/people/${encodeURIComponent(p.login)}`);
      data.people.forEach((p, i) => {
        const li = el('li');
        li.id = `suggest-${i}`;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.dataset.href = shown[i];
        const who = el('span', 'who');
        const name = el('span', 'name');
        name.append(marked(p.name, p.nameMarks));
        who.append(name, el('span', 'sub', [p.title, p.department].filter(Boolean).join(' · ')));
        if (p.match) {
          const hit = el('span', 'hit', `${p.match.field}: `);
          hit.append(marked(p.match.value, p.match.ranges));
          who.append(hit);
        }
        li.append(avatar(p), who);
        list.append(li);
      });
      const label = data.total === 1 ? 'See the result' : `See all ${data.total} results`;
      const all = el('li', 'all', data.total ? label : `No one matches “${text}”`);
      all.id = 'suggest-all';
      all.setAttribute('role', 'option');
      all.setAttribute('aria-selected', 'false');
      all.dataset.href = `/?q=${encodeURIComponent(text)}`;
      list.append(all);
      list.dataset.q = text;
      list.hidden = false;
      q.setAttribute('aria-expanded', 'true');
      active = -1;
      say(`${data.total} ${data.total === 1 ? 'person' : 'people'} found`);
    };
    const run = () => {
      const text = q.value.trim();
      if (pending) pending.abort();
      if (!text) { hide(); return; }
      pending = new AbortController();
      const params = new URLSearchParams({ q: text, limit: '8' });
      for (const f of ['department', 'city']) if (page.get(f)) params.set(f, page.get(f));
      fetch(`/web/search?${params}`, { signal: pending.signal, headers: { Accept: 'application/json' } })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((data) => { if (q.value.trim() === text) render(text, data); })
        .catch((e) => { if (!(e && e.name === 'AbortError')) hide(); });
    };
    q.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(run, 120);
    });
    q.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (list.hidden) { if (q.value.trim()) run(); return; }
        e.preventDefault();
        highlight(active + (e.key === 'ArrowDown' ? 1 : -1));
      } else if (e.key === 'Enter' && !list.hidden && active >= 0) {
        e.preventDefault();
        location.assign(options()[active].dataset.href);
      } else if (e.key === 'Escape') {
        hide();
      }
    });
    list.addEventListener('mousedown', (e) => e.preventDefault());
    list.addEventListener('click', (e) => {
      const o = e.target.closest('[role=option]');
      if (o) location.assign(o.dataset.href);
    });
    q.addEventListener('blur', () => setTimeout(hide, 150));
  }

  // ---- org chart -------------------------------------------------------------------------
  const tree = document.querySelector('[role=tree]');
  if (!tree) return;
  const node = (p) => {
    const li = el('li');
    li.setAttribute('role', 'treeitem');
    li.tabIndex = -1;
    li.dataset.login = p.login;
    li.dataset.count = p.count;
    const box = el('div', 'node');
    if (p.count > 0) {
      li.setAttribute('aria-expanded', 'false');
      const b = el('button', 'toggle');
      b.type = 'button';
      b.tabIndex = -1;
      b.setAttribute('aria-label', `Show ${p.count} reports of ${p.name}`);
      box.append(b);
    } else {
      box.append(el('span', 'toggle none'));
    }
    const who = el('span', 'who');
    const a = el('a', null, p.name);
    a.href = `/org/${encodeURIComponent(p.login)}`;
    a.tabIndex = -1;
    who.append(a, el('span', 'sub', [p.title, p.department].filter(Boolean).join(' · ')));
    box.append(avatar(p), who);
    if (p.count > 0) box.append(el('span', 'n', String(p.count)));
    li.append(box);
    return li;
  };
  const load = (item, group, offset, more) =>
    fetch(`/web/reports/${encodeURIComponent(item.dataset.login)}?offset=${offset}`, { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        if (more) more.remove();
        data.people.forEach((p) => group.append(node(p)));
        if (data.next !== null && data.next !== undefined) {
          const li = el('li', 'more');
          li.setAttribute('role', 'none');
          const b = el('button', null, `Show more (${data.next} of ${data.total} shown)`);
          b.type = 'button';
          b.addEventListener('click', () => load(item, group, data.next, li));
          li.append(b);
          group.append(li);
        }
        say(`${data.total} reports`);
        return data;
      });
  const expand = (item) => {
    if (item.getAttribute('aria-expanded') !== 'false') return Promise.resolve();
    item.setAttribute('aria-expanded', 'true');
    let group = item.querySelector(':scope > ul[role=group]');
    if (group) return Promise.resolve();
    group = el('ul');
    group.setAttribute('role', 'group');
    item.append(group);
    item.setAttribute('aria-busy', 'true');
    return load(item, group, 0, null)
      .catch(() => { group.remove(); item.setAttribute('aria-expanded', 'false'); })
      .finally(() => item.removeAttribute('aria-busy'));
  };
  const collapse = (item) => {
    if (item.getAttribute('aria-expanded') === 'true' && !item.classList.contains('root')) {
      item.setAttribute('aria-expanded', 'false');
    }
  };
  const visible = () => Array.from(tree.querySelectorAll('[role=treeitem]'))
    .filter((i) => !i.parentElement.closest('[aria-expanded=false]'));
  const focus = (item) => {
    if (!item) return;
    tree.querySelectorAll('[role=treeitem][tabindex="0"]').forEach((i) => { i.tabIndex = -1; });
    item.tabIndex = 0;
    item.focus();
  };
  tree.addEventListener('click', (e) => {
    const t = e.target.closest('.toggle');
    const item = e.target.closest('[role=treeitem]');
    if (!item) return;
    if (t && !t.classList.contains('none')) {
      if (item.getAttribute('aria-expanded') === 'false') expand(item); else collapse(item);
    }
    if (!e.target.closest('a')) focus(item);
  });
  // The server's "Show more" for the root's team: load the next page in place.
  tree.querySelectorAll('.more a[data-offset]').forEach((a) => {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      const root = tree.querySelector('.root');
      load(root, a.closest('ul'), Number(a.dataset.offset), a.closest('li'));
    });
  });
  tree.addEventListener('keydown', (e) => {
    const item = e.target.closest('[role=treeitem]');
    if (!item || e.altKey || e.ctrlKey || e.metaKey) return;
    const all = visible();
    const i = all.indexOf(item);
    const open = item.getAttribute('aria-expanded');
    let handled = true;
    switch (e.key) {
      case 'ArrowDown': focus(all[i + 1]); break;
      case 'ArrowUp': focus(all[i - 1]); break;
      case 'Home': focus(all[0]); break;
      case 'End': focus(all[all.length - 1]); break;
      case 'ArrowRight':
        if (open === 'false') expand(item);
        else if (open === 'true') focus(item.querySelector(':scope > ul [role=treeitem]'));
        break;
      case 'ArrowLeft':
        if (open === 'true' && !item.classList.contains('root')) collapse(item);
        else focus(item.parentElement.closest('[role=treeitem]'));
        break;
      case 'Enter': {
        const a = item.querySelector(':scope > .node a');
        if (a) location.assign(a.href);
        break;
      }
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
})();
