/* The haystacks' raw material: a fixed list of plain sentences (written for
 * this tool; no downloads) and a seeded generator. */
#include "eval.h"

uint64_t ee_next(ee_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t ee_below(ee_rng *r, uint32_t n) { return (uint32_t)((ee_next(r) >> 32) * n >> 32); }

static const char *const sentences[] = {
    "The morning train to the coast was full of people carrying umbrellas.",
    "A small bakery on the corner sells bread that is still warm at dawn.",
    "Most rivers in the valley freeze for a few weeks in the middle of winter.",
    "The library keeps its oldest maps in a cool room behind the reading hall.",
    "Farmers in the region plant barley in spring and harvest it in late summer.",
    "A careful cook tastes the soup before adding more salt.",
    "The museum opened a new wing for tools that sailors once used at sea.",
    "Children in the village learn to swim in the lake near the old mill.",
    "The bridge was painted green so that it would blend with the forest.",
    "Many birds leave the northern coast when the days grow short.",
    "A good map shows the hills, the roads and the places to find water.",
    "The town council meets on the first evening of every month.",
    "Tea grown on the high slopes has a lighter taste than tea from the plains.",
    "The lighthouse keeper wrote down the weather every hour of the night.",
    "Old stone walls divide the fields into long and narrow strips.",
    "A quiet garden behind the school is full of herbs and bees.",
    "The market closes early on the day before a public holiday.",
    "Engineers tested the new dam by letting the water rise slowly.",
    "The choir practises in the church hall because the acoustics are good.",
    "Snow on the mountain pass often closes the road until late spring.",
    "A patient teacher explains the same idea in several different ways.",
    "The harbour was rebuilt after a storm destroyed the wooden piers.",
    "Wild horses graze on the island and nobody is allowed to feed them.",
    "The city planted oak trees along the avenue to give shade in summer.",
    "A letter from the north took nearly a week to arrive.",
    "The orchard produces more apples than the family can ever eat.",
    "Travellers used to rest at the inn before crossing the desert.",
    "The potter shapes each bowl by hand and fires it in a wood kiln.",
    "A thick fog rolled in from the sea and hid the whole town.",
    "The students built a small boat and sailed it across the bay.",
    "Fresh paint on the fence dried quickly in the afternoon sun.",
    "The old clock in the square has not shown the right time for years.",
    "A narrow path leads from the village up to the ruined castle.",
    "The weaver dyes the wool with plants that grow near the river.",
    "Heavy rain in the autumn fills the reservoir for the dry months.",
    "The baker and the miller have known each other since childhood.",
    "A flock of sheep blocked the road for almost half an hour.",
    "The stars are easy to see on the hill far from the city lights.",
    "Workers repaired the roof of the station before the winter came.",
    "The river carries fine sand down to the wide and shallow delta.",
    "A folk song about the sea is sung at every wedding in the town.",
    "The forest ranger counts the deer each year to track the herd.",
    "Copper pots hang above the stove in the restaurant kitchen.",
    "The ferry stops running when the wind on the strait is too strong.",
    "A stone well in the courtyard still gives clean and cold water.",
    "The painter waited for the evening light before starting the picture.",
    "Bees from the hives on the hill visit the clover in the meadow.",
    "The newspaper printed a long story about the opening of the canal.",
};

_Static_assert(sizeof sentences / sizeof sentences[0] <= EE_FILLER_MAX, "ee_task_prompts shuffles EE_FILLER_MAX");

const char *ee_filler(uint32_t i) { return sentences[i % ee_filler_count()]; }
uint32_t ee_filler_count(void) { return (uint32_t)(sizeof sentences / sizeof sentences[0]); }
