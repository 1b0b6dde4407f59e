'use strict';
// Minimal SMSC on node-smpp (npm "smpp"), the reference peer of `python -m benchmarks`.
//
// It accepts any bind_transceiver, answers each submit_sm with a counter message_id and then
// sends a deliver_sm receipt for it (esm_class 4, receipted_message_id and message_state TLVs,
// Appendix B text). It stores nothing and keeps node-smpp's defaults (Nagle stays on), as a
// user of the library would. Usage: node smsc.js [--port N] [--host H]; prints {"port": N}.

const smpp = require('smpp');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

function smppDate(date) {
  // YYMMDDhhmm in UTC, the receipt text's date format (SMPP v3.4 Appendix B).
  const two = (n) => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes());
}

let lastId = 0;

const server = smpp.createServer({ debug: false }, (session) => {
  session.on('error', () => session.destroy());
  session.on('bind_transceiver', (pdu) => {
    session.send(pdu.response({ system_id: 'nodesmpp' }));
  });
  session.on('submit_sm', (pdu) => {
    const id = String(++lastId);
    session.send(pdu.response({ message_id: id }));
    const date = smppDate(new Date());
    session.deliver_sm({
      source_addr_ton: pdu.dest_addr_ton,
      source_addr_npi: pdu.dest_addr_npi,
      source_addr: pdu.destination_addr,
      dest_addr_ton: pdu.source_addr_ton,
      dest_addr_npi: pdu.source_addr_npi,
      destination_addr: pdu.source_addr,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:' + date + ' done date:' + date +
        ' stat:DELIVRD err:000 text:',
      receipted_message_id: id,
      message_state: smpp.MESSAGE_STATE.DELIVERED,
    });
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
});

server.listen(Number(option('--port', '0')), option('--host', '127.0.0.1'), () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
