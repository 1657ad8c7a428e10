"""Everyday text about nothing in particular, in English and Spanish: what an embedding model's
cosine with unrelated text looks like for a question, whatever the archive holds.

An archive's own passages are a poor "unrelated" reference when the archive has one topic:
every passage is near every question about it, so a question the archive answers rises
little above them. These sentences (written for this project, on subjects chosen to be far
from any archive's: cooking, weather, pets, chores) stand for text no question is about.
"""

from __future__ import annotations

ENGLISH: tuple[str, ...] = (
    "Preheat the oven and grease the baking tray before you pour in the batter.",
    "The cat slept on the windowsill all afternoon while the rain kept falling.",
    "Remember to water the tomato plants twice a week during the summer.",
    "The bus was ten minutes late, so I walked the rest of the way home.",
    "She painted the kitchen walls a pale shade of yellow last weekend.",
    "Add a pinch of salt to the boiling water before the pasta goes in.",
    "The dog barks every time the postman rings the doorbell.",
    "Tomorrow will be cloudy in the morning with sunny spells in the afternoon.",
    "He folded the laundry and put the towels back in the cupboard.",
    "The children built a sandcastle near the edge of the water.",
    "Our neighbours are planting a row of apple trees along the fence.",
    "Please turn off the lights when you leave the room.",
    "The recipe calls for two eggs, a cup of flour and some butter.",
    "I lost my umbrella on the train again this morning.",
    "The new sofa is comfortable, but it does not fit through the door.",
    "Grandmother knits warm scarves for everyone in the family each winter.",
    "The coffee machine at the office has been broken since Monday.",
    "They went camping by the lake and watched the stars at night.",
    "Wash the strawberries gently and let them dry on a paper towel.",
    "The football match was cancelled because the pitch was flooded.",
)
SPANISH: tuple[str, ...] = (
    "Precalienta el horno y engrasa la bandeja antes de verter la masa.",
    "El gato durmió en la ventana toda la tarde mientras seguía lloviendo.",
    "Recuerda regar las tomateras dos veces por semana durante el verano.",
    "El autobús llegó diez minutos tarde, así que caminé el resto del trayecto.",
    "Ella pintó las paredes de la cocina de un amarillo pálido el fin de semana.",
    "Añade una pizca de sal al agua hirviendo antes de echar la pasta.",
    "El perro ladra cada vez que el cartero toca el timbre.",
    "Mañana estará nublado por la mañana con intervalos de sol por la tarde.",
    "Dobló la ropa limpia y guardó las toallas en el armario.",
    "Los niños construyeron un castillo de arena cerca de la orilla.",
    "Nuestros vecinos están plantando una fila de manzanos junto a la valla.",
    "Por favor, apaga las luces cuando salgas de la habitación.",
    "La receta pide dos huevos, una taza de harina y un poco de mantequilla.",
    "Esta mañana volví a perder el paraguas en el tren.",
    "El sofá nuevo es cómodo, pero no cabe por la puerta.",
    "La abuela teje bufandas para toda la familia cada invierno.",
    "La cafetera de la oficina está estropeada desde el lunes.",
    "Fueron de acampada al lago y miraron las estrellas por la noche.",
    "Lava las fresas con cuidado y déjalas secar sobre papel de cocina.",
    "El partido de fútbol se suspendió porque el campo estaba inundado.",
)

#: By language code; a language without its own sentences is measured against all of them.
BACKGROUND: dict[str, tuple[str, ...]] = {"en": ENGLISH, "es": SPANISH}
