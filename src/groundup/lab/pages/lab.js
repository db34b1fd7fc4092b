// Shared helpers of the lab pages: the navigation bar, JSON requests and a colour per index.
const PAGES = [
  ["index.html", "Progress"], ["tokenizer.html", "Tokenizers"], ["next-token.html", "Next token"],
  ["attention.html", "Attention"], ["chat.html", "Chat"], ["serving.html", "Paged KV"],
];

function navBar() {
  const here = location.pathname.split("/").pop() || "index.html";
  const links = PAGES.map(([href, name]) => `<a href="${href}" class="${href === here ? "here" : ""}">${name}</a>`);
  document.querySelector("header").innerHTML = "<b>groundup lab</b>" + links.join("");
}

async function postJSON(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await response.json();
  if (!response.ok) throw new Error(errorText(data));
  return data;
}

async function getJSON(url) {
  const response = await fetch(url);
  const data = await response.json();
  if (!response.ok) throw new Error(errorText(data));
  return data;
}

function errorText(data) {
  if (data.error) return data.error;
  if (Array.isArray(data.detail)) return data.detail.map(d => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("\n");
  return JSON.stringify(data);
}

function esc(text) {
  return String(text).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// visible whitespace inside token chips
function shown(text) {
  return esc(text).replace(/ /g, "\u00b7").replace(/\n/g, "\u21b5").replace(/\t/g, "\u2192");
}

function hue(i) { return `hsl(${(i * 47) % 360} 70% 85%)`; }

function showError(where, err) { document.getElementById(where).textContent = err ? String(err.message || err) : ""; }

document.addEventListener("DOMContentLoaded", navBar);
