// Package attack holds arp's adversarial attacks, one small file each,
// behind the Attack interface. Budgets (eps) are always on the [0,1] pixel
// scale; models map pixels to their own input scale in their first layer,
// so no attack converts scales. Targeting (untargeted, least-likely,
// random, given) is handled once, in Base.
package attack
