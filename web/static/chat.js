// The chat page without page reloads: questions go to POST /api/ask with the earlier
// turns, answers are built with DOM APIs (textContent only: archive and user text is
// never parsed as HTML). Without JavaScript the same form posts to "/" instead.
(function () {
  "use strict";

  const form = document.getElementById("ask-form");
  const box = document.getElementById("question");
  const send = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  const intro = document.getElementById("intro");
  const formError = document.getElementById("form-error");
  const newChat = document.getElementById("new-chat");
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // Earlier turns rendered by the server (no-JS posts) seed the conversation.
  const history = [];
  const questions = form.querySelectorAll("input[name=history_question]");
  const answers = form.querySelectorAll("input[name=history_answer]");
  questions.forEach(function (input, i) {
    history.push({ question: input.value, answer: answers[i] ? answers[i].value : "" });
    input.remove();
    if (answers[i]) answers[i].remove();
  });
  let pending = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function displayDate(value) {
    if (!value) return null;
    const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(String(value));
    if (!match) return String(value);
    const month = MONTHS[Number(match[2]) - 1];
    if (!month) return String(value);
    return (match[3] ? Number(match[3]) + " " : "") + month + " " + match[1];
  }

  // Highlight spans are in Unicode code points (Python offsets), so slice by code point.
  function appendMarked(parent, text, spans) {
    const chars = Array.from(text);
    let position = 0;
    const sorted = (spans || []).slice().sort(function (a, b) { return a[0] - b[0]; });
    sorted.forEach(function (span) {
      const start = Math.max(span[0], position);
      const end = Math.min(span[1], chars.length);
      if (end <= start) return;
      if (start > position) parent.append(chars.slice(position, start).join(""));
      parent.append(el("mark", null, chars.slice(start, end).join("")));
      position = end;
    });
    if (position < chars.length) parent.append(chars.slice(position).join(""));
  }

  function openLink(citation, className, text) {
    const link = el("a", className, text);
    link.href = citation.url;
    return link;
  }

  function card(citation, turnNumber, verdict) {
    const item = el("li", verdict !== "answered" ? "card card-closest" : "card");
    item.id = "t" + turnNumber + "-c" + citation.n;
    const head = el("div", "card-head");
    const number = el("span", "card-n", citation.n);
    number.setAttribute("aria-hidden", "true");
    head.append(number, openLink(citation, "card-title", citation.title));
    if (verdict === "not_in_archive") head.append(el("span", "badge", "Not an answer"));
    if (verdict === "uncertain") head.append(el("span", "badge", "May not answer"));
    const meta = el("div", "card-meta");
    const metadata = citation.metadata || {};
    const date = displayDate(metadata.date);
    if (date) meta.append(el("span", null, date));
    if (metadata.source) meta.append(el("span", null, metadata.source));
    if (citation.page) meta.append(el("span", null, "Page " + citation.page));
    meta.append(el("span", "card-doc", citation.document_id));
    const quote = el("blockquote", "card-text");
    appendMarked(quote, citation.text, citation.highlights);
    const open = openLink(citation, "open", "Open in document ");
    const arrow = el("span", null, "→");
    arrow.setAttribute("aria-hidden", "true");
    open.append(arrow);
    item.append(head, meta, quote, open);
    return item;
  }

  // The dated events of the answer's sentences, oldest first (mirrors mini_timeline()).
  function miniTimeline(events, turnNumber) {
    const box = el("div", "mini-timeline");
    box.append(el("h3", "cards-title", "Timeline"));
    const list = el("ol", "mini-events");
    events.forEach(function (event) {
      const item = el("li", "mini-event");
      const time = el("time", null, event.label);
      time.setAttribute("datetime", event.first_day);
      item.append(time, " ", el("span", "mini-text", event.text));
      event.sources.forEach(function (source) {
        if (!source.citation) return;
        const cite = el("a", "cite", "[" + source.citation + "]");
        cite.href = "#t" + turnNumber + "-c" + source.citation;
        cite.setAttribute("aria-label", "Source " + source.citation);
        item.append(" ", cite);
      });
      list.append(item);
    });
    box.append(list);
    return box;
  }

  function renderAnswer(slot, data, turnNumber) {
    const uncertain = data.verdict === "uncertain";
    slot.className = data.abstained ? "answer abstained" : uncertain ? "answer uncertain" : "answer";
    slot.dataset.verdict = data.verdict;
    slot.replaceChildren();
    const label = el("span", "label",
      data.abstained ? "No answer in the archive" : uncertain ? "Maybe not in the archive" : "From the archive");
    if (!data.abstained) {
      label.append(" ", el("span", "confidence", "confidence " + Math.round(data.confidence * 100) + "%"));
    }
    slot.append(label);
    const text = el("p", "answer-text");
    const title = el("h3", "cards-title");
    if (data.abstained) {
      text.append(el("strong", null, "The archive does not say."),
        " None of its passages answers this question. The closest passages are shown below; they are not an answer.");
      title.append("Closest passages ", el("span", "cards-note", "not an answer"));
    } else {
      data.sentences.forEach(function (sentence, i) {
        if (i > 0) text.append(" ");
        text.append(el("span", "sentence", sentence.text), " ");
        const cite = el("a", "cite", "[" + sentence.citation + "]");
        cite.href = "#t" + turnNumber + "-c" + sentence.citation;
        cite.setAttribute("aria-label", "Source " + sentence.citation);
        text.append(cite);
      });
      if (uncertain) {
        title.append("Closest passages ", el("span", "cards-note", "may not answer"));
      } else {
        title.textContent = "Sources";
      }
    }
    const cards = el("ol", "cards");
    data.citations.forEach(function (citation) { cards.append(card(citation, turnNumber, data.verdict)); });
    if (uncertain) {
      const note = el("p", "uncertain-note");
      note.append(el("strong", null, "The archive may not answer this;"), " the closest it comes:");
      slot.append(note);
    }
    slot.append(text);
    if (!data.abstained && data.language_note) slot.append(el("p", "language-note", data.language_note));
    if (!data.abstained && data.events && data.events.length) slot.append(miniTimeline(data.events, turnNumber));
    slot.append(title, cards);
  }

  function renderError(slot, message) {
    slot.className = "answer failed";
    slot.replaceChildren(el("span", "label", "Could not answer"), el("p", "answer-text", message));
  }

  function newTurn(question, turnNumber) {
    const turn = el("li", "turn");
    turn.id = "t" + turnNumber;
    const asked = el("div", "question");
    asked.append(el("span", "label", "You asked"), el("p", "question-text", question));
    const slot = el("div", "answer loading");
    slot.setAttribute("aria-busy", "true");
    const status = el("p", "loading-text", "Searching the archive");
    status.append(el("span", "dots"));
    slot.append(status);
    turn.append(asked, slot);
    conversation.append(turn);
    return { turn: turn, slot: slot };
  }

  function setPending(value) {
    pending = value;
    form.classList.toggle("is-loading", value);
    send.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  function showFormError(message) {
    formError.textContent = message || "";
    formError.hidden = !message;
  }

  async function ask(question) {
    const turnNumber = conversation.children.length + 1;
    const view = newTurn(question, turnNumber);
    if (intro) intro.hidden = true;
    if (newChat) newChat.hidden = false;
    view.turn.scrollIntoView({ block: "start", behavior: "smooth" });
    setPending(true);
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ question: question, history: history.slice() }),
      });
      const data = await response.json().catch(function () { return null; });
      if (!response.ok || !data) {
        const message = data && data.error ? data.error.message : "The server answered " + response.status + ".";
        renderError(view.slot, message);
      } else {
        renderAnswer(view.slot, data, turnNumber);
        history.push({ question: data.question, answer: data.answer });
        box.placeholder = "Ask a follow-up…";
        autosize();
      }
    } catch (error) {
      renderError(view.slot, "The server could not be reached. Check that it is running and try again.");
    } finally {
      view.slot.removeAttribute("aria-busy");
      setPending(false);
      box.focus({ preventScroll: true });
      view.turn.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  }

  function autosize() {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, 200) + "px";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (pending) return;
    const question = box.value.trim();
    if (!question) {
      showFormError("Type a question first.");
      box.focus();
      return;
    }
    showFormError("");
    box.value = "";
    autosize();
    ask(question);
  });

  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  box.addEventListener("input", function () {
    autosize();
    if (!formError.hidden) showFormError("");
  });
  autosize();
  box.focus();
})();
