import assert from "node:assert/strict";
import { classSubtype, isImageName, knownSubtype, parseFileName } from "../../lib/data/names.ts";

Deno.test("parseFileName: every Kermany file-name pattern", () => {
  const cases: [string, string, string][] = [
    ["person12_bacteria_45.jpeg", "bacteria", "person12"],
    ["person3_virus_9.jpeg", "virus", "person3"],
    ["person1661_virus_2872_2.jpeg", "virus", "person1661"],
    ["person447_virus_921_1.jpeg", "virus", "person447"],
    ["IM-0115-0001.jpeg", "normal", "IM-0115"],
    ["IM-0115-0001-0002.jpeg", "normal", "IM-0115"],
    ["NORMAL2-IM-0115-0001.jpeg", "normal", "NORMAL2-IM-0115"],
    ["NORMAL2-IM-0587-0001-0001.jpeg", "normal", "NORMAL2-IM-0587"],
  ];
  for (const [name, subtype, patientId] of cases) {
    assert.deepEqual(parseFileName(name), { subtype, patientId }, name);
  }
});

Deno.test("parseFileName: paths, case and other image extensions", () => {
  assert.deepEqual(parseFileName("/data/train/PNEUMONIA/person7_bacteria_1.jpeg"), {
    subtype: "bacteria",
    patientId: "person7",
  });
  assert.deepEqual(parseFileName("Person7_Virus_1.JPG"), {
    subtype: "virus",
    patientId: "person7",
  });
  assert.deepEqual(parseFileName("im-0001-0002.png"), { subtype: "normal", patientId: "IM-0001" });
  assert.deepEqual(parseFileName("IM-0001-0002.JPEG"), { subtype: "normal", patientId: "IM-0001" });
});

Deno.test("parseFileName: IM and NORMAL2-IM with the same number are different patients", () => {
  assert.notEqual(
    parseFileName("IM-0115-0001.jpeg").patientId,
    parseFileName("NORMAL2-IM-0115-0001.jpeg").patientId,
  );
});

Deno.test("parseFileName: unknown names give nulls", () => {
  for (
    const name of [
      "scan.png",
      "person12.jpeg",
      "person12_fungus_3.jpeg",
      "person_bacteria_3.jpeg",
      "IM-0115.jpeg",
      "XIM-0115-0001.jpeg",
      "person12_bacteria_45.txt",
      "person12_bacteria_45.jpeg.bak",
      "",
    ]
  ) {
    assert.deepEqual(parseFileName(name), { subtype: null, patientId: null }, name);
  }
});

Deno.test("isImageName: .jpeg .jpg .png .dcm in any case, nothing else", () => {
  for (const n of ["a.jpeg", "a.JPG", "a.png", "a.PnG", "a.jpg", "a.dcm", "a.DCM"]) {
    assert.ok(isImageName(n), n);
  }
  for (const n of ["a.txt", "a.gif", "a.jpeg.txt", "jpeg", "a.dicom"]) {
    assert.ok(!isImageName(n), n);
  }
});

Deno.test("classSubtype and knownSubtype", () => {
  assert.equal(classSubtype("NORMAL"), "normal");
  assert.equal(classSubtype("PNEUMONIA"), null);
  assert.equal(knownSubtype({ subtype: "virus" }), "virus");
  assert.equal(knownSubtype({ subtype: "virus", subtypeKnown: true }), "virus");
  assert.equal(knownSubtype({ subtype: "bacteria", subtypeKnown: false }), "unknown");
});
