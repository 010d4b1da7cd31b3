// Stockade in the browser: a session key that never leaves this browser signs every private
// request exactly as an API client would (docs/api.md, "Signing"). Money is integers: amounts
// typed by people are converted to minor units with BigInt string arithmetic, never floats.
"use strict";

const DOMAIN = "stockade/http/v1\u0000";
const encoder = new TextEncoder();

function coreKey() {
  return document.querySelector('meta[name="stockade-core-key"]').content;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes) {
  let text = "";
  bytes.forEach((b) => { text += String.fromCharCode(b); });
  return btoa(text);
}

async function sha256hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

// ---------------------------------------------------------------- amounts

function toMinor(text, decimals) {
  const match = /^(\d{1,19})(?:\.(\d+))?$/.exec(String(text).trim());
  if (!match) throw new Error("enter a number such as 0.01");
  const fraction = match[2] || "";
  if (fraction.length > decimals) throw new Error(`at most ${decimals} decimal places`);
  const minor = BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("that amount is too large");
  return Number(minor);
}

function units(minor, decimals) {
  let value = BigInt(minor);
  const negative = value < 0n;
  if (negative) value = -value;
  const scale = 10n ** BigInt(decimals);
  let fraction = (value % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  if (fraction.length < 2 && decimals >= 2) fraction = fraction.padEnd(2, "0");
  const whole = (value / scale).toString();
  return (negative ? "-" : "") + whole + (fraction ? "." + fraction : "");
}

// ---------------------------------------------------------------- the session, in IndexedDB

function openDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("stockade", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("session");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function sessionStore(operation, ...args) {
  const database = await openDatabase();
  return new Promise((resolve, reject) => {
    const mode = operation === "get" ? "readonly" : "readwrite";
    const request = database.transaction("session", mode).objectStore("session")[operation](...args);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function currentSession() {
  const session = await sessionStore("get", "current");
  return session && session.expires_ms > Date.now() ? session : null;
}

// ---------------------------------------------------------------- requests

let clockOffset = null;

// How far this computer's clock is from the exchange's: a signature must be within 5 s of it.
async function serverNow() {
  if (clockOffset === null) {
    const before = Date.now();
    const answer = await (await fetch("/api/v1/time", { cache: "no-store" })).json();
    clockOffset = answer.server_time_ms - Math.round((before + Date.now()) / 2);
  }
  return Date.now() + clockOffset;
}

async function signedFetch(method, path, query = "", body = null) {
  const session = await currentSession();
  if (!session) throw new Error("log in first");
  const raw = body === null ? new Uint8Array() : encoder.encode(JSON.stringify(body));
  const ts = await serverNow();
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  const canonical = [method, path, query, await sha256hex(raw), String(ts), hex(nonce), coreKey()].join("\n");
  const message = new Uint8Array([...encoder.encode(DOMAIN), ...encoder.encode(canonical)]);
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", session.privateKey, message));
  const headers = {
    "stockade-key": session.public_hex,
    "stockade-timestamp": String(ts),
    "stockade-nonce": hex(nonce),
    "stockade-signature": base64(signature),
  };
  if (body !== null) headers["content-type"] = "application/json";
  const response = await fetch(path + (query ? "?" + query : ""), {
    method, headers, body: body === null ? undefined : raw, cache: "no-store",
  });
  return { ok: response.ok, status: response.status, value: await response.json() };
}

// ---------------------------------------------------------------- the session ticket

// Under a flood, edge admits page loads that carry a ticket signed by a live session key with
// the signed requests (docs/edge.md, "Session tickets"). It authorizes nothing: every private
// request is still signed on its own.
const TICKET_DOMAIN = "stockade/ticket/v1\u0000";
const TICKET_MS = 600000;

async function keepTicket(session) {
  const ts = await serverNow();
  const current = /(?:^|; )stockade-ticket=([0-9a-f]{64})\.(\d+)\./.exec(document.cookie);
  if (current && current[1] === session.public_hex && ts - Number(current[2]) < TICKET_MS / 2) return;
  const message = encoder.encode(TICKET_DOMAIN + coreKey() + "\n" + String(ts));
  const signature = await crypto.subtle.sign("Ed25519", session.privateKey, message);
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `stockade-ticket=${session.public_hex}.${ts}.${toBase64url(signature)}` +
    `; Path=/; Max-Age=${TICKET_MS / 1000}; SameSite=Strict${secure}`;
}

function dropTicket() {
  document.cookie = "stockade-ticket=; Path=/; Max-Age=0; SameSite=Strict";
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return { ok: response.ok, status: response.status, value: await response.json() };
}

function describe(error) {
  return error && error.error ? `${error.error.name}: ${error.error.message}` : "unexpected answer";
}

// ---------------------------------------------------------------- who is signed in

async function showWho() {
  const session = await currentSession();
  const signedIn = document.getElementById("signed-in");
  if (!session) return null;
  document.getElementById("username").textContent = session.username;
  document.getElementById("account").textContent = String(session.account);
  signedIn.dataset.account = String(session.account);
  signedIn.hidden = false;
  document.getElementById("login-link").hidden = true;
  document.getElementById("signup-link").hidden = true;
  document.getElementById("logout").addEventListener("click", async () => {
    try { await signedFetch("POST", "/api/v1/auth/logout"); } finally {
      await sessionStore("delete", "current");
      dropTicket();
      location.assign("/");
    }
  });
  return session;
}

// ---------------------------------------------------------------- sign up and log in

// A key pair for a new session: non-extractable, so no script can ever copy the private half out.
async function sessionKeys() {
  const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  return { keys, publicHex: hex(new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey))) };
}

// Keeps the session a log-in opened (its key and what core said of it) for the next pages.
async function keepSession(keys, publicHex, answer) {
  if (!answer.ok) return answer;
  await sessionStore("put", {
    privateKey: keys.privateKey,
    public_hex: publicHex,
    username: answer.value.username,
    account: answer.value.account,
    expires_ms: answer.value.expires_ms,
  }, "current");
  return answer;
}

async function logIn(username, password, totp) {
  const { keys, publicHex } = await sessionKeys();
  const body = { username, password, session_key: publicHex };
  if (totp) body.totp = totp;
  return keepSession(keys, publicHex, await postJson("/api/v1/auth/login", body));
}

const toBase64url = (buffer) => base64(new Uint8Array(buffer)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// Logs in with a passkey: core's challenge names this session's key, so the passkey's answer
// opens a session for this key and no other, whoever relays it.
async function logInWithPasskey() {
  const { keys, publicHex } = await sessionKeys();
  const made = await postJson("/api/v1/auth/passkey/challenge", { session_key: publicHex });
  if (!made.ok) return made;
  const credential = await navigator.credentials.get({
    publicKey: {
      challenge: fromBase64(made.value.challenge),
      rpId: made.value.rp_id,
      timeout: made.value.timeout_ms,
      userVerification: "required",
    },
  });
  const answer = credential.response;
  return keepSession(keys, publicHex, await postJson("/api/v1/auth/passkey", {
    session_key: publicHex,
    credential_id: toBase64url(credential.rawId),
    client_data: toBase64url(answer.clientDataJSON),
    authenticator_data: toBase64url(answer.authenticatorData),
    signature: toBase64url(answer.signature),
  }));
}

function initAuth() {
  const form = document.getElementById("auth-form");
  const error = document.getElementById("auth-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const username = form.username.value.trim();
    const password = form.password.value;
    if (form.dataset.mode === "signup") {
      const created = await postJson("/api/v1/auth/signup", { username, password });
      if (!created.ok) { error.textContent = describe(created.value); return; }
    }
    const code = form.totp ? form.totp.value.trim() : "";
    const answer = await logIn(username, password, code);
    if (!answer.ok) {
      error.textContent = describe(answer.value);
      if (form.totp && answer.value.error && answer.value.error.field === "totp") form.totp.focus();
      return;
    }
    location.assign("/");
  });
  const passkey = document.getElementById("passkey-login");
  if (!passkey) return;
  passkey.hidden = !window.PublicKeyCredential;
  passkey.addEventListener("click", async () => {
    error.textContent = "";
    try {
      const answer = await logInWithPasskey();
      if (!answer.ok) { error.textContent = describe(answer.value); return; }
      location.assign("/");
    } catch (failure) {
      error.textContent = `No passkey answered (${failure.name}).`;
    }
  });
}

// ---------------------------------------------------------------- a market

// Merges ``items`` into ``kept`` (key -> item) and keeps only the ``limit`` with the largest
// keys; returns them, largest key first.
function keepLatest(kept, items, keyOf, limit) {
  for (const item of items) kept.set(keyOf(item), item);
  const latest = [...kept.values()].sort((a, b) => keyOf(b) - keyOf(a)).slice(0, limit);
  kept.clear();
  for (const item of latest) kept.set(keyOf(item), item);
  return latest;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// ---------------------------------------------------------------- live market data

const CHART_CANDLES = 60;

// Follows one market over /api/v1/stream: the book from a snapshot and then every market event,
// numbered without gaps (a gap means events were lost: subscribe again, for a fresh snapshot),
// the trades and the 1-minute candles; with a session, also its orders, fills and balances,
// under a stream grant renewed a minute before it ends. Reconnects, pausing longer each time,
// if the connection drops or the data is not there yet.
const PRIVATE_CHANNELS = ["orders", "fills", "balances"];
const STREAM_AUTH_DOMAIN = "stockade/stream-auth/v1\0";

function followMarket(market, on, session) {
  let pause = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/stream`);
    let book = null;
    let authenticated = false;
    let renewal = null;
    let asking = false; // one grant request at a time
    let nonce = null; // the connection's, from its hello: a grant is used by signing it
    let refusals = 0; // grants refused since the last that worked: each waits longer
    const send = (message) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)); };
    const subscribe = (channel, extra = {}) => send({ op: "subscribe", channel, market, ...extra });
    async function authorize() {
      if (asking || ws.readyState !== WebSocket.OPEN) return;
      asking = true;
      try {
        const answer = await signedFetch("POST", "/api/v1/stream/grant").catch(() => null);
        // logged out, or this socket closed meanwhile: the public channels go on without it
        if (!answer || !answer.ok || ws.readyState !== WebSocket.OPEN) return;
        const session = await currentSession();
        const signed = concat(encoder.encode(STREAM_AUTH_DOMAIN), nonce);
        const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", session.privateKey, signed));
        send({ op: "auth", grant: answer.value, signature: base64(signature) });
        const left = answer.value.expires_ms - (await serverNow());
        clearTimeout(renewal);
        renewal = setTimeout(authorize, Math.max(5000, left - 60000));
      } finally {
        asking = false;
      }
    }
    ws.onopen = () => {
      subscribe("book");
      subscribe("trades");
      subscribe("candles", { interval: "1m" });
    };
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "hello") {
        nonce = fromBase64(m.nonce);
        if (session) authorize();
      } else if (m.type === "snapshot") {
        pause = 500;
        book = { seq: m.seq, bids: new Map(m.bids), asks: new Map(m.asks) };
        on.book(book, m.log_index);
      } else if (m.type === "update" && book) {
        for (const e of m.events) {
          if (e.seq !== book.seq + 1) { book = null; subscribe("book"); return; } // resync
          book.seq = e.seq;
          if (e.type !== "level") continue;
          const side = e.side === "buy" ? book.bids : book.asks;
          if (e.volume) side.set(e.price, e.volume); else side.delete(e.price);
        }
        on.book(book, m.events[m.events.length - 1].log_index);
      } else if (m.type === "authenticated") {
        refusals = 0;
        if (!authenticated) for (const channel of PRIVATE_CHANNELS) send({ op: "subscribe", channel });
        authenticated = true;
      } else if (PRIVATE_CHANNELS.includes(m.type)) {
        on[m.type](m);
      } else if (m.type in on) {
        on[m.type](m[m.type]);
      } else if (m.type === "error" && m.error.name === "BAD_GRANT") {
        authenticated = false; // the grant ended: ask for another, waiting longer each time
        clearTimeout(renewal);
        renewal = setTimeout(authorize, Math.min(1000 * 2 ** refusals, 60000));
        refusals += 1;
      } else if (m.type === "error" && m.error.name !== "CoreUnavailable") {
        ws.close(); // not ready yet, or refused: try again after a pause
      }
    };
    ws.onclose = () => {
      clearTimeout(renewal);
      renewal = null;
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 10000);
    };
  }
  connect();
}

// A candlestick chart on a canvas: wick from low to high, body from open to close, green when
// the close is at or above the open. Prices only place pixels here; no amount is computed.
function drawCandles(canvas, candles, price) {
  const context = canvas.getContext("2d");
  const style = getComputedStyle(document.documentElement);
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  context.font = "12px system-ui, sans-serif";
  context.fillStyle = style.getPropertyValue("--muted");
  if (!candles.length) {
    context.fillText("No trades yet.", 8, 20);
    canvas.setAttribute("aria-label", "Price chart: no trades yet.");
    return;
  }
  const high = Math.max(...candles.map((c) => c[2]));
  const low = Math.min(...candles.map((c) => c[3]));
  const pad = (high - low) / 20 || Math.max(1, high / 1000); // one price: a flat line mid-chart
  const y = (p) => 16 + ((height - 32) * (high + pad - p)) / (high - low + 2 * pad);
  const step = (width - 80) / CHART_CANDLES;
  context.fillText(price(high), width - 76, 20);
  context.fillText(price(low), width - 76, height - 8);
  candles.forEach((c, i) => {
    const x = i * step + step / 2;
    const colour = style.getPropertyValue(c[4] >= c[1] ? "--bid" : "--ask");
    context.strokeStyle = colour;
    context.fillStyle = colour;
    context.beginPath();
    context.moveTo(x, y(c[2]));
    context.lineTo(x, y(c[3]));
    context.stroke();
    const top = y(Math.max(c[1], c[4]));
    context.fillRect(x - step * 0.35, top, step * 0.7, Math.max(1, y(Math.min(c[1], c[4])) - top));
  });
  const last = candles[candles.length - 1];
  canvas.dataset.candles = String(candles.length);
  canvas.setAttribute("aria-label", `Price chart, 1-minute candles: last ${price(last[4])}, ` +
    `high ${price(high)}, low ${price(low)} over the ${candles.length} minutes shown.`);
}

function initMarket(session) {
  const info = document.getElementById("market").dataset;
  const baseDecimals = Number(info.baseDecimals);
  const quoteDecimals = Number(info.quoteDecimals);
  const price = (p) => units(p, quoteDecimals);
  const size = (q) => units(q, baseDecimals);

  const trades = new Map(); // trade id -> trade, the latest kept
  const candles = new Map(); // open time -> [open_ms, open, high, low, close, volume, trades]

  function showBook(book, logIndex) {
    const asks = [...book.asks].sort((a, b) => a[0] - b[0]).slice(0, 20).reverse();
    const bids = [...book.bids].sort((a, b) => b[0] - a[0]).slice(0, 20);
    for (const [id, levels, cls] of [["asks", asks, "ask"], ["bids", bids, "bid"]]) {
      const body = document.getElementById(id);
      body.replaceChildren();
      for (const [p, q] of levels) {
        const row = body.insertRow();
        row.className = cls;
        cell(row, price(p), "num");
        cell(row, size(q), "num");
      }
    }
    const at = document.getElementById("book-at");
    at.textContent = `As of market event ${book.seq}, log entry ${logIndex}.`;
    at.dataset.seq = String(book.seq);
  }

  function showTrades(news) {
    const latest = keepLatest(trades, news, (t) => t.trade_id, 20);
    const body = document.getElementById("recent-trades");
    body.replaceChildren();
    for (const trade of latest) {
      const row = body.insertRow();
      row.className = trade.taker_side === "buy" ? "bid" : "ask";
      row.title = `log entry ${trade.log_index}`;
      cell(row, price(trade.price), "num");
      cell(row, size(trade.qty), "num");
      cell(row, trade.taker_side);
      cell(row, new Date(trade.ts).toLocaleTimeString());
    }
  }

  function showCandles(news) {
    const shown = keepLatest(candles, news, (c) => c[0], CHART_CANDLES).reverse(); // oldest first
    drawCandles(document.getElementById("chart"), shown, price);
  }

  fetch(`/api/v1/markets/${info.market}/candles?interval=1m&limit=${CHART_CANDLES}`)
    .then((r) => (r.ok ? r.json() : { candles: [] }))
    .then((page) => showCandles(page.candles));
  const fills = new Map(); // trade id -> my fill in this market, the latest kept

  function showOrders(orders) {
    const body = document.getElementById("open-orders");
    body.replaceChildren();
    for (const order of orders.filter((o) => o.market === info.market)) {
      const row = body.insertRow();
      row.dataset.orderId = String(order.order_id);
      cell(row, String(order.order_id));
      cell(row, order.side);
      cell(row, price(order.price), "num");
      cell(row, size(order.remaining), "num");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Cancel";
      button.addEventListener("click", async () => {
        const answer = await signedFetch("DELETE", `/api/v1/orders/${order.order_id}`);
        showReceipt(answer, "Cancelled");
        refreshMine();
      });
      row.insertCell().append(button);
    }
  }

  function showFills(trades) {
    const mine = trades.filter((t) => t.market === info.market);
    const latest = keepLatest(fills, mine, (t) => t.trade_id, 50);
    const body = document.getElementById("my-trades");
    body.replaceChildren();
    for (const trade of latest) {
      const row = body.insertRow();
      cell(row, String(trade.trade_id));
      cell(row, trade.side);
      cell(row, price(trade.price), "num");
      cell(row, size(trade.qty), "num");
      // the fee is charged in what the trade paid out: base to a buyer, quote to a seller
      cell(row, trade.side === "buy" ? size(trade.fee) : price(trade.fee), "num");
    }
  }

  followMarket(info.market, {
    book: showBook,
    trades: showTrades,
    candles: showCandles,
    orders: (m) => showOrders(m.orders),
    fills: (m) => showFills(m.trades),
    balances: (m) => renderBalances(m),
  }, session);

  // Once at the start and after each order or cancel of this page's own: the stream brings the
  // rest (another browser's trade against these orders, say) as the log shows it.
  async function refreshMine() {
    const [orders, trades, balances] = await Promise.all([
      signedFetch("GET", "/api/v1/open-orders", `market=${info.market}`),
      signedFetch("GET", "/api/v1/my-trades", `market=${info.market}&limit=50&latest=true`),
      signedFetch("GET", "/api/v1/balances"),
    ]);
    if (orders.ok) showOrders(orders.value.orders);
    if (trades.ok) showFills(trades.value.trades);
    if (balances.ok) await renderBalances(balances.value);
  }

  function showReceipt(answer, what) {
    if (!answer.ok) { say(describe(answer.value), "error"); return; }
    const r = answer.value;
    const traded = r.events.filter((e) => e.type === "Trade").length;
    say(`${what}: order ${r.order_id ?? ""} at sequence ${r.seq}` + (traded ? `, ${traded} trade(s)` : "") +
      (r.log ? "; signed into the log as entry " : "."), "ok");
    if (r.log) { // the entry, and the proof that it is in the log, on a page of its own
      const link = document.createElement("a");
      link.href = `/log/${r.log.first}`;
      link.id = "receipt-entry";
      link.textContent = String(r.log.first);
      document.getElementById("receipt").append(link, ".");
    }
    document.getElementById("receipt").dataset.logIndex = r.log ? String(r.log.first) : "";
  }

  document.getElementById("order-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      const tif = form.tif.value;
      const body = {
        market: info.market,
        side: form.side.value,
        tif,
        qty: toMinor(form.qty.value, baseDecimals),
        price: tif === "market" && !form.price.value.trim() ? 0 : toMinor(form.price.value, quoteDecimals),
      };
      showReceipt(await signedFetch("POST", "/api/v1/orders", "", body), "Placed");
      await refreshMine();
    } catch (error) {
      say(error.message, "error");
    }
  });

  if (session) {
    document.getElementById("private").hidden = false;
    refreshMine();
  } else {
    document.getElementById("place").disabled = true;
    say("Log in to trade.", "");
  }
}

// The order form's one line of news; ``data-said`` counts them, so a reader can tell a new one.
function say(text, kind) {
  const receipt = document.getElementById("receipt");
  receipt.textContent = text;
  receipt.className = "receipt " + kind;
  receipt.dataset.said = String(Number(receipt.dataset.said || "0") + 1);
}

let decimalsOfAssets = null;

// Each asset's decimals, from the public market list (read once per page).
function assetDecimals() {
  decimalsOfAssets = decimalsOfAssets || fetch("/api/v1/markets").then((r) => r.json()).then(
    (markets) => Object.fromEntries(markets.assets.map((a) => [a.code, a.decimals])));
  return decimalsOfAssets;
}

async function renderBalances(value) {
  const decimals = await assetDecimals();
  const body = document.getElementById("balances");
  body.replaceChildren();
  for (const row of value.balances) {
    const tr = body.insertRow();
    tr.dataset.asset = row.asset;
    cell(tr, row.asset);
    cell(tr, units(row.available, decimals[row.asset]), "num");
    cell(tr, units(row.held, decimals[row.asset]), "num");
  }
}

async function initAccount(session) {
  if (!session) return;
  document.getElementById("account-needs-login").hidden = true;
  document.getElementById("private").hidden = false;
  const balances = await signedFetch("GET", "/api/v1/balances");
  if (balances.ok) await renderBalances(balances.value);
  const statement = await signedFetch("GET", "/api/v1/ledger", "limit=50&latest=true");
  if (!statement.ok) return;
  const decimals = await assetDecimals();
  const body = document.getElementById("statement");
  body.replaceChildren();
  for (const line of statement.value.entries.reverse()) {
    const row = body.insertRow();
    row.dataset.kind = line.kind;
    cell(row, new Date(line.ts).toLocaleString());
    cell(row, `${line.kind} ${line.ref}`);
    cell(row, line.asset);
    cell(row, units(line.amount, decimals[line.asset]), "num");
    cell(row, line.fee ? units(line.fee, decimals[line.asset]) : "", "num");
  }
}

// ---------------------------------------------------------------- API keys

const SECRET_FORMAT = "stockade-ed25519-secret-v1";

function fromBase64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// The key file stockade.keys.read_secret reads: the same fields and checksum.
async function keyFile(name, publicHex, seedHex) {
  const checksum = (await sha256hex(encoder.encode(`${SECRET_FORMAT}\n${name}\n${publicHex}\n${seedHex}`))).slice(0, 16);
  return `format = "${SECRET_FORMAT}"\nname = "${name}"\npublic = "${publicHex}"\n` +
    `seed = "${seedHex}"\nchecksum = "${checksum}"\n`;
}

function initKeys(session) {
  if (!session) return;
  document.getElementById("keys-needs-login").hidden = true;
  document.getElementById("private").hidden = false;
  const news = document.getElementById("key-news");

  let others = []; // the other live sessions' public keys, as last listed

  async function refresh() {
    const answer = await signedFetch("GET", "/api/v1/keys");
    if (!answer.ok) { news.textContent = describe(answer.value); return; }
    others = answer.value.keys
      .filter((k) => k.session && k.live)
      .map((k) => hex(fromBase64(k.public_key)))
      .filter((publicHex) => publicHex !== session.public_hex);
    const body = document.getElementById("keys");
    body.replaceChildren();
    for (const key of answer.value.keys) {
      const publicHex = hex(Uint8Array.from(atob(key.public_key), (c) => c.charCodeAt(0)));
      const row = body.insertRow();
      row.dataset.key = publicHex;
      cell(row, key.label);
      cell(row, key.session ? "browser session" : "API key");
      cell(row, publicHex.slice(0, 16) + "\u2026");
      const mine = publicHex === session.public_hex;
      cell(row, key.live ? (mine ? "live (this browser)" : "live") : "ended");
      const actions = row.insertCell();
      if (key.live && !mine) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Revoke";
        button.addEventListener("click", async () => {
          const done = await signedFetch("DELETE", `/api/v1/keys/${publicHex}`);
          news.textContent = done.ok ? "Revoked." : describe(done.value);
          refresh();
        });
        actions.append(button);
      }
    }
  }

  document.getElementById("end-others").addEventListener("click", async () => {
    const ended = [];
    for (const publicHex of others) {
      const done = await signedFetch("DELETE", `/api/v1/keys/${publicHex}`);
      if (done.ok) ended.push(publicHex);
    }
    news.textContent = `Ended ${ended.length} other session(s).`;
    refresh();
  });

  document.getElementById("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const label = event.target.label.value.trim();
    if (!/^[a-z0-9._-]{1,40}$/.test(label)) { news.textContent = "a name is 1 to 40 of a-z 0-9 . _ -"; return; }
    // extractable: the secret half is handed to you once, below; this page keeps no copy
    const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const jwk = await crypto.subtle.exportKey("jwk", keys.privateKey);
    const publicHex = hex(fromBase64url(jwk.x));
    const body = { public_key: publicHex, label };
    const code = event.target.totp.value.trim();
    if (code) body.totp = code;
    event.target.totp.value = "";
    const answer = await signedFetch("POST", "/api/v1/keys", "", body);
    if (!answer.ok) { news.textContent = describe(answer.value); return; }
    const file = await keyFile(label, publicHex, hex(fromBase64url(jwk.d)));
    const link = document.getElementById("key-download");
    link.href = URL.createObjectURL(new Blob([file], { type: "application/octet-stream" }));
    link.download = `${label}.key`;
    link.hidden = false;
    news.textContent = `Key ${label} made (public ${publicHex.slice(0, 16)}\u2026): download it now, it is not kept.`;
    refresh();
  });
  refresh();
}

// ---------------------------------------------------------------- security

// A QR code's modules, one string of 0s and 1s per row (quiet zone included), drawn dark on light.
function drawQr(canvas, rows) {
  const scale = Math.max(1, Math.floor(canvas.width / rows.length));
  canvas.width = canvas.height = scale * rows.length;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = "#000";
  rows.forEach((row, y) => [...row].forEach((dark, x) => {
    if (dark === "1") g.fillRect(x * scale, y * scale, scale, scale);
  }));
}

const REFUSED = {
  password: "wrong password",
  code_missing: "right password, code missing",
  code: "right password, wrong code",
  passkey: "a passkey's answer that failed",
};

// The account's passkeys, and adding one: the browser asks the device to make it for core's
// challenge, which names this session; core checks what the device answered.
function initPasskeys(news) {
  const form = document.getElementById("passkey-form");
  if (!window.PublicKeyCredential) {
    form.hidden = true;
    news.textContent = "This browser cannot make passkeys.";
  }

  async function refresh() {
    const answer = await signedFetch("GET", "/api/v1/account/passkeys");
    if (!answer.ok) { news.textContent = describe(answer.value); return; }
    const body = document.getElementById("passkeys");
    body.replaceChildren();
    for (const passkey of answer.value.passkeys) {
      const row = body.insertRow();
      row.dataset.credential = passkey.credential_id;
      cell(row, passkey.name || "(no name)");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Remove";
      button.addEventListener("click", async () => {
        const done = await signedFetch("POST", "/api/v1/account/passkeys/remove", "", {
          credential_id: toBase64url(fromBase64(passkey.credential_id)),
        });
        news.textContent = done.ok ? "The passkey is removed." : describe(done.value);
        refresh();
      });
      row.insertCell().append(button);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.name.value.trim();
    const code = form.totp.value.trim();
    form.totp.value = "";
    const options = await signedFetch("POST", "/api/v1/account/passkeys/options");
    if (!options.ok) { news.textContent = describe(options.value); return; }
    const o = options.value;
    let credential;
    try {
      credential = await navigator.credentials.create({
        publicKey: {
          challenge: fromBase64(o.challenge),
          rp: { id: o.rp_id, name: "Stockade" },
          user: { id: fromBase64(o.user_id), name: o.username, displayName: o.username },
          pubKeyCredParams: [-8, -7, -257].map((alg) => ({ type: "public-key", alg })),
          excludeCredentials: o.exclude.map((id) => ({ type: "public-key", id: fromBase64(id) })),
          authenticatorSelection: { residentKey: "required", userVerification: "required" },
          attestation: "none",
          timeout: o.timeout_ms,
        },
      });
    } catch (failure) {
      news.textContent = `No passkey was made (${failure.name}).`;
      return;
    }
    const body = {
      credential_id: toBase64url(credential.rawId),
      client_data: toBase64url(credential.response.clientDataJSON),
      attestation: toBase64url(credential.response.attestationObject),
      name,
    };
    if (code) body.totp = code;
    const answer = await signedFetch("POST", "/api/v1/account/passkeys", "", body);
    news.textContent = answer.ok ? `Passkey ${name} added: it logs you in without a password.` : describe(answer.value);
    if (answer.ok) form.reset();
    refresh();
  });
  refresh();
}

function initSecurity(session) {
  if (!session) return;
  document.getElementById("security-needs-login").hidden = true;
  document.getElementById("private").hidden = false;
  const news = document.getElementById("totp-news");

  async function refresh() {
    const answer = await signedFetch("GET", "/api/v1/account/logins", "limit=50");
    if (!answer.ok) { news.textContent = describe(answer.value); return; }
    const on = answer.value.two_factor;
    document.getElementById("totp-state").textContent = on ? "on" : "off";
    document.getElementById("totp-off").hidden = on;
    document.getElementById("totp-off-form").hidden = !on;
    const body = document.getElementById("logins");
    body.replaceChildren();
    for (const login of answer.value.logins) {
      const row = body.insertRow();
      row.dataset.refused = login.refused || "";
      cell(row, new Date(login.ts).toLocaleString());
      const how = login.method === "passkey" ? "logged in with a passkey" : "logged in";
      cell(row, login.refused ? REFUSED[login.refused] : how, login.refused ? "refused" : "");
      cell(row, login.client);
      const key = login.session_key ? hex(Uint8Array.from(atob(login.session_key), (c) => c.charCodeAt(0))) : "";
      cell(row, key ? key.slice(0, 16) + "\u2026" + (key === session.public_hex ? " (this browser)" : "") : "");
    }
  }

  document.getElementById("totp-start").addEventListener("click", async () => {
    const answer = await signedFetch("POST", "/api/v1/account/2fa/secret");
    if (!answer.ok) { news.textContent = describe(answer.value); return; }
    document.getElementById("totp-secret").textContent = answer.value.secret;
    drawQr(document.getElementById("totp-qr"), answer.value.qr);
    document.getElementById("totp-setup").hidden = false;
    document.getElementById("totp-on-code").focus();
  });

  async function change(path, body, done) {
    const answer = await signedFetch("POST", path, "", body);
    news.textContent = answer.ok ? done : describe(answer.value);
    if (answer.ok) document.getElementById("totp-setup").hidden = true;
    await refresh();
  }

  document.getElementById("totp-on-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = event.target.code.value.trim();
    event.target.code.value = "";
    await change("/api/v1/account/2fa", { code }, "Two-factor log-in is on.");
  });
  document.getElementById("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { password: form.password.value, new_password: form.new_password.value };
    if (form.totp.value.trim()) body.totp = form.totp.value.trim();
    form.reset();
    const answer = await signedFetch("POST", "/api/v1/account/password", "", body);
    document.getElementById("password-news").textContent = answer.ok ? "The password is changed." : describe(answer.value);
  });
  document.getElementById("totp-off-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = event.target.code.value.trim();
    event.target.code.value = "";
    await change("/api/v1/account/2fa/off", { code }, "Two-factor log-in is off.");
  });
  initPasskeys(document.getElementById("passkey-news"));
  refresh();
}

// ---------------------------------------------------------------- a log entry and its proof

const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 9162 2.1.3.2: the root an entry's leaf hash and its inclusion proof give. Plain division,
// not bit operators: those are 32-bit in JavaScript, and logs grow past 2^31 entries.
async function rootFromInclusion(index, size, leafHash, proof) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new Error("the entry is not in a tree of that size");
  }
  let fn = index, sn = size - 1, r = leafHash;
  const half = (n) => Math.floor(n / 2);
  for (const p of proof) {
    if (sn === 0) throw new Error("the proof is too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(Uint8Array.of(1), p, r));
      while (fn % 2 === 0 && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = await sha256(concat(Uint8Array.of(1), r, p));
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) throw new Error("the proof is too short");
  return r;
}

// A C2SP signed note checked against the log's vkey (name+keyid+base64(algorithm || key)): the
// checkpoint it signs (origin, size, root), or an error.
async function openCheckpoint(note, vkey) {
  const [name, keyId, ...rest] = vkey.split("+");
  const key = fromBase64(rest.join("+")).slice(1);
  const split = note.indexOf("\n\n");
  const text = note.slice(0, split + 1);
  const verifier = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
  for (const line of note.slice(split + 2).split("\n")) {
    const [dash, who, blob] = line.split(" ");
    if (dash !== "\u2014" || who !== name || !blob) continue;
    const raw = fromBase64(blob);
    if (hex(raw.slice(0, 4)) !== keyId) continue;
    if (!(await crypto.subtle.verify("Ed25519", verifier, raw.slice(4), encoder.encode(text)))) {
      throw new Error("the log's signature on the checkpoint does not verify");
    }
    const [origin, size, root] = text.split("\n");
    return { origin, size: Number(size), root: fromBase64(root) };
  }
  throw new Error("the checkpoint carries no signature by the log's key");
}

function showSays(says) {
  const body = document.getElementById("says");
  body.replaceChildren();
  for (const [name, value] of Object.entries(says)) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = name;
    row.append(th);
    cell(row, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
  }
}

async function initLogEntry() {
  const info = document.getElementById("entry").dataset;
  const state = document.getElementById("proof-state");
  for (let tries = 0; tries < 20; tries++) {
    const response = await fetch(`/api/v1/log/entries/${info.index}`, { cache: "no-store" });
    const answer = await response.json();
    if (response.status === 404 && answer.error.name === "NotInLogYet") {
      state.textContent = "Waiting for a checkpoint that covers this entry\u2026";
      await new Promise((done) => setTimeout(done, 1000));
      continue;
    }
    if (!response.ok) { state.textContent = describe(answer); state.className = "receipt error"; return; }
    showSays(answer.says);
    document.getElementById("checkpoint").textContent = answer.checkpoint;
    document.getElementById("proof-count").textContent = String(answer.proof.length);
    try {
      const whole = (n) => Number.isSafeInteger(n) && n >= 0;
      if (!whole(answer.index) || answer.index !== Number(info.index)) throw new Error("the answer is about another entry");
      const signed = await openCheckpoint(answer.checkpoint, info.logKey);
      if (!whole(answer.size) || signed.size !== answer.size) throw new Error("the proof is for another tree size");
      const leaf = await sha256(concat(Uint8Array.of(0), fromBase64(answer.entry)));
      const root = await rootFromInclusion(answer.index, answer.size, leaf, answer.proof.map(fromBase64));
      if (hex(root) !== hex(signed.root)) throw new Error("the proof does not lead to the signed root");
      state.textContent = `Proven in this browser: entry ${answer.index} is in the log ` +
        `${signed.origin} of ${signed.size} entries, whose root the log's key signed.`;
      state.className = "receipt ok";
      state.dataset.proven = "1";
    } catch (error) {
      state.textContent = `Not proven: ${error.message}`;
      state.className = "receipt error";
      state.dataset.proven = "0";
    }
    return;
  }
  state.textContent = "No checkpoint covers this entry yet; reload in a moment.";
}

document.addEventListener("DOMContentLoaded", async () => {
  const session = await showWho();
  if (session) {
    await keepTicket(session).catch(() => {});  // without one, a flood asks this page for work
    setInterval(() => keepTicket(session).catch(() => {}), TICKET_MS / 4);
  } else {
    dropTicket();
  }
  const page = document.body.dataset.page;
  if (page === "login" || page === "signup") initAuth();
  if (page === "market") initMarket(session);
  if (page === "account") initAccount(session);
  if (page === "keys") initKeys(session);
  if (page === "security") initSecurity(session);
  if (page === "log-entry") initLogEntry();
  document.body.dataset.ready = "1";
});
