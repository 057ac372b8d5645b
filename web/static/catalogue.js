// Progressive enhancement of the catalogue: choosing an order applies it at once (without
// scripts the Sort button does).
const sort = document.getElementById("sort");
if (sort && sort.form) {
  sort.addEventListener("change", () => sort.form.submit());
}
