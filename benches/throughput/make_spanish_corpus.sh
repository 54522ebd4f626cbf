#!/usr/bin/env bash
# make_spanish_corpus.sh OUT_DIR: the throughput benchmark's Spanish corpus (`--corpus
# spanish`): 8 stereo contact-center calls in Spanish, written into OUT_DIR with a
# manifest.csv and an expected.json in the format of fixtures/expected.json.
#
# Why: the fixture calls hold 27 Spanish words, so one word is 4 points of word error rate
# and no system can be ranked on them. These calls are about ten times larger; their sentences
# are not the fixtures' and were written before any system was run on them (nothing was tuned
# on them).
#
# Calls are built exactly like the fixtures (fixtures/call_builder.sh: the fixtures' Spanish
# voices, es+f5 for the agent and es-419 for the customer, at 140 words a minute, presence
# boost, 300-3400 Hz band, 8 kHz G.711 mu-law), deterministically. Numbers are written as
# words in the scripts, so that no system loses or gains by how it formats digits.
set -euo pipefail

OUT_DIR="${1:?usage: make_spanish_corpus.sh OUT_DIR}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
for tool in espeak-ng sox soxi awk; do
    command -v "$tool" >/dev/null || { echo "make_spanish_corpus.sh: '$tool' is required" >&2; exit 1; }
done

mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT
source "$ROOT/fixtures/call_builder.sh"
cd "$OUT_DIR"
rm -f s[0-9][0-9]_*.wav manifest.csv expected.json

TAB=$'\t'
G="$TURN_GAP_S"

# add CALL_ID AGENT_ID AGENT_SIDE NOISE < script
add() {
    local call_id="$1" agent_id="$2" side="$3" noise="$4"
    build_call "$call_id" "$AGENT_A103_ES" "$CUSTOMER_ES" "$noise"
    interleave "$call_id" "$side" "$WORK_DIR/$call_id.master.wav"
    encode "$WORK_DIR/$call_id.master.wav" mulaw "${call_id}_mulaw.wav"
    add_call "$call_id" "$agent_id" "${call_id}_mulaw.wav" 2024-04-03T10:00:00+02:00 "$side" es corpus "$call_id"
}

add s01 A103 right no <<SCRIPT
A${TAB}0${TAB}Buenos días, gracias por llamar a Energía del Norte, le atiende Lucía.
C${TAB}${G}${TAB}Hola, creo que mi última factura es demasiado alta.
A${TAB}0.6${TAB}Lo siento mucho. ¿Me puede dar su número de cliente, por favor?
C${TAB}0.8${TAB}Sí, es siete cuatro dos nueve uno.
A${TAB}1.2${TAB}Gracias. Veo que el mes pasado la lectura del contador fue estimada.
A${TAB}0.5${TAB}Si me da la lectura de hoy, corregiré la factura.
C${TAB}${G}${TAB}Perfecto, la miro esta tarde y les llamo.
A${TAB}0.4${TAB}Muy bien. ¿Puedo ayudarle en algo más?
C${TAB}${G}${TAB}No, eso es todo, muchas gracias.
A${TAB}${G}${TAB}Gracias a usted por llamar, que tenga un buen día.
SCRIPT

add s02 A103 left yes <<SCRIPT
A${TAB}0${TAB}Buenas tardes, Móvil Ciudad, le atiende Lucía. ¿En qué puedo ayudarle?
C${TAB}${G}${TAB}Mi teléfono dejó de funcionar después de la actualización de ayer.
A${TAB}0.7${TAB}Entiendo. ¿Ha probado a apagarlo y encenderlo de nuevo?
C${TAB}${G}${TAB}Sí, dos veces, y la pantalla sigue en negro.
A${TAB}1.0${TAB}En ese caso le enviaremos un teléfono nuevo por mensajería.
A${TAB}0.5${TAB}Debería llegar en tres días laborables.
C${TAB}${G}${TAB}Estupendo, muchas gracias por su ayuda.
A${TAB}${G}${TAB}De nada. Adiós.
SCRIPT

add s03 A103 right yes <<SCRIPT
A${TAB}0${TAB}Banco Central, le atiende Lucía. Esta llamada puede ser grabada.
C${TAB}${G}${TAB}Buenos días, quiero abrir una cuenta de ahorro.
A${TAB}0.6${TAB}Claro que sí. ¿Ya tiene una cuenta corriente con nosotros?
C${TAB}${G}${TAB}Sí, desde hace muchos años.
A${TAB}0.8${TAB}Entonces puedo abrirle la cuenta de ahorro ahora mismo por teléfono.
A${TAB}0.5${TAB}El interés es del dos por ciento al año.
C${TAB}${G}${TAB}Muy bien, ábrala, por favor.
A${TAB}1.5${TAB}Hecho. Recibirá una carta de confirmación la semana que viene.
C${TAB}${G}${TAB}Muchas gracias.
A${TAB}${G}${TAB}Gracias por llamar a Banco Central, adiós.
SCRIPT

add s04 A103 left no <<SCRIPT
A${TAB}0${TAB}Hola, bienvenido a Seguros del Valle, me llamo Lucía.
C${TAB}${G}${TAB}Hola, he tenido un pequeño accidente con el coche esta mañana.
A${TAB}0.5${TAB}Lo siento mucho. ¿Están todos bien?
C${TAB}${G}${TAB}Sí, nadie está herido, pero la puerta está dañada.
A${TAB}0.9${TAB}Voy a abrir un parte. ¿Dónde ocurrió el accidente?
C${TAB}0.6${TAB}En el aparcamiento del centro comercial de la calle Mayor.
A${TAB}1.1${TAB}Gracias. Mañana le llamará un perito para ver el coche.
C${TAB}${G}${TAB}Perfecto, esperaré la llamada.
A${TAB}${G}${TAB}Cuídese, y que tenga un buen día.
SCRIPT

add s05 A103 right no <<SCRIPT
A${TAB}0${TAB}Buenas tardes, Viajes Sol, le atiende Lucía. ¿En qué puedo ayudarle?
C${TAB}${G}${TAB}Necesito cambiar la fecha de mi vuelo a Madrid.
A${TAB}0.6${TAB}Sin problema. ¿Me dice su código de reserva?
C${TAB}0.8${TAB}Es uve, jota, ocho, dos.
A${TAB}1.0${TAB}Gracias. ¿Qué fecha prefiere?
C${TAB}${G}${TAB}El viernes por la mañana, si es posible.
A${TAB}1.2${TAB}Hay plazas en el vuelo de las nueve. El cambio cuesta cuarenta euros.
C${TAB}${G}${TAB}De acuerdo, hágalo.
A${TAB}0.8${TAB}Su nuevo billete le llegará por correo electrónico. Buen viaje.
SCRIPT

add s06 A103 left yes <<SCRIPT
A${TAB}0${TAB}Buenos días, Paquetería Rápida, le atiende Lucía.
C${TAB}${G}${TAB}Mi paquete tenía que llegar el lunes y todavía no ha llegado.
A${TAB}0.6${TAB}Le pido disculpas por el retraso. ¿Me da el número de seguimiento?
C${TAB}0.9${TAB}Sí, es tres cinco ocho uno cero dos.
A${TAB}1.3${TAB}Veo que el paquete está en el almacén de su ciudad.
A${TAB}0.5${TAB}El repartidor se lo llevará mañana por la mañana.
C${TAB}${G}${TAB}Vale, gracias por la información.
A${TAB}${G}${TAB}Gracias por su paciencia, adiós.
SCRIPT

add s07 A103 right no <<SCRIPT
A${TAB}0${TAB}Hola, Internet Hogar, soporte técnico, le atiende Lucía.
C${TAB}${G}${TAB}Buenas, mi conexión se corta todas las noches.
A${TAB}0.7${TAB}Voy a hacer una prueba en su línea, no cuelgue, por favor.
A${TAB}2.0${TAB}Veo una avería cerca de su casa. Un técnico la reparará el jueves.
C${TAB}${G}${TAB}¿Tengo que estar en casa?
A${TAB}0.8${TAB}No, el trabajo es en la calle, no hace falta que esté.
C${TAB}${G}${TAB}Muy bien, muchas gracias.
A${TAB}${G}${TAB}Gracias por llamar, hasta luego.
SCRIPT

add s08 A103 left yes <<SCRIPT
A${TAB}0${TAB}Buenas tardes, Banco Central, le atiende Lucía.
C${TAB}${G}${TAB}Hola, he perdido mi tarjeta de crédito.
A${TAB}0.6${TAB}Lo siento. La bloqueo ahora mismo. ¿Me confirma su fecha de nacimiento?
C${TAB}0.9${TAB}El doce de marzo de mil novecientos ochenta.
A${TAB}1.5${TAB}Gracias. La tarjeta está bloqueada y le enviaremos una nueva.
C${TAB}${G}${TAB}¿Cuánto tarda en llegar?
A${TAB}0.8${TAB}Unos cinco días. ¿Puedo ayudarle en algo más?
C${TAB}${G}${TAB}No, nada más, gracias.
A${TAB}${G}${TAB}A usted. Gracias por llamar, adiós.
SCRIPT

write_manifest_and_expected
echo "spanish corpus written to $OUT_DIR: $(ls s*_mulaw.wav | wc -l) calls"
