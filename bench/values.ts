/** Word lists for realistic membership rows (invented people; a few non-ASCII names and quoted cells). */

/** [display name, ASCII form used in e-mail addresses] */
export const FIRST_NAMES: readonly (readonly [string, string])[] = [
  ['James', 'james'], ['Mary', 'mary'], ['Robert', 'robert'], ['Patricia', 'patricia'], ['John', 'john'],
  ['Jennifer', 'jennifer'], ['Michael', 'michael'], ['Linda', 'linda'], ['David', 'david'], ['Sarah', 'sarah'],
  ['William', 'william'], ['Karen', 'karen'], ['Daniel', 'daniel'], ['Nancy', 'nancy'], ['Matthew', 'matthew'],
  ['Lisa', 'lisa'], ['Anthony', 'anthony'], ['Emily', 'emily'], ['Mark', 'mark'], ['Ashley', 'ashley'],
  ['Kevin', 'kevin'], ['Laura', 'laura'], ['Brian', 'brian'], ['Amanda', 'amanda'], ['Omar', 'omar'],
  ['Priya', 'priya'], ['Wei', 'wei'], ['Yuki', 'yuki'], ['Min-jun', 'minjun'], ['Aisha', 'aisha'],
  ['Carlos', 'carlos'], ['Lucía', 'lucia'], ['José', 'jose'], ['Chloé', 'chloe'], ['Benoît', 'benoit'],
  ['François', 'francois'], ['Zoë', 'zoe'], ['Sofía', 'sofia'], ['Mateo', 'mateo'], ['Hana', 'hana'],
  ['Ji-woo', 'jiwoo'], ['Haruto', 'haruto'], ['Noah', 'noah'], ['Olivia', 'olivia'], ['Liam', 'liam'],
  ['Emma', 'emma'], ['Ava', 'ava'], ['Ethan', 'ethan'], ['Mia', 'mia'], ['Lucas', 'lucas'],
];

export const LAST_NAMES: readonly (readonly [string, string])[] = [
  ['Smith', 'smith'], ['Johnson', 'johnson'], ['Williams', 'williams'], ['Brown', 'brown'], ['Jones', 'jones'],
  ['Garcia', 'garcia'], ['Miller', 'miller'], ['Davis', 'davis'], ['Rodriguez', 'rodriguez'], ['Martinez', 'martinez'],
  ['Lee', 'lee'], ['Walker', 'walker'], ['Hall', 'hall'], ['Allen', 'allen'], ['Young', 'young'],
  ['King', 'king'], ['Wright', 'wright'], ['Lopez', 'lopez'], ['Hill', 'hill'], ['Scott', 'scott'],
  ['Green', 'green'], ['Adams', 'adams'], ['Baker', 'baker'], ['Nguyen', 'nguyen'], ['Patel', 'patel'],
  ['Kim', 'kim'], ['Park', 'park'], ['Tanaka', 'tanaka'], ['Sato', 'sato'], ['Chen', 'chen'],
  ['Wang', 'wang'], ['Singh', 'singh'], ['Khan', 'khan'], ['Tremblay', 'tremblay'], ['Gagnon', 'gagnon'],
  ['Roy', 'roy'], ['Côté', 'cote'], ['Müller', 'muller'], ['Fernández', 'fernandez'], ['Núñez', 'nunez'],
  ["O'Brien", 'obrien'], ['Murphy', 'murphy'], ['Kelly', 'kelly'], ['Cohen', 'cohen'], ['Rossi', 'rossi'],
  ['Silva', 'silva'], ['Santos', 'santos'], ['Ali', 'ali'], ['Ito', 'ito'], ['Choi', 'choi'],
];

export const JOB_FUNCTIONS: readonly string[] = [
  'Engineering', 'Sales', 'Marketing', 'Finance', 'Legal', 'Operations', 'Support', 'Design', 'Product',
  'Data', 'HR', 'IT', 'Research', 'Security',
];

export const BUSINESS_UNITS: readonly string[] = [
  'Platform', 'Consumer', 'Enterprise', 'Corporate', 'Payments', 'Cloud', 'Retail', 'Devices', 'Health',
  'Media', 'Growth', 'Ads',
];

/** [office location, city, country] */
export const OFFICES: readonly (readonly [string, string, string])[] = [
  ['HQ', 'New York', 'US'], ['Midtown', 'New York', 'US'], ['Mission', 'San Francisco', 'US'], ['Loop', 'Chicago', 'US'],
  ['Remote', 'Austin', 'US'], ['Remote', 'Denver', 'US'], ['Downtown', 'Seattle', 'US'], ['Old Port', 'Montreal', 'CA'],
  ['King St', 'Toronto', 'CA'], ['Gastown', 'Vancouver', 'CA'], ['Soho', 'London', 'UK'], ['Salamanca', 'Madrid', 'ES'],
  ['Eixample', 'Barcelona', 'ES'], ['Gangnam', 'Seoul', 'KR'], ['Shibuya', 'Tokyo', 'JP'], ['Mitte', 'Berlin', 'DE'],
  ['Paris, La Défense', 'Paris', 'FR'], ['Dublin 2', 'Dublin', 'IE'],
];

export const GENDERS: readonly (readonly [string, number])[] = [
  ['Female', 48], ['Male', 48], ['Non-binary', 2], ['', 2],
];

/** Locale weights; most members use the default (blank means en-US). */
export const LOCALE_WEIGHTS: readonly (readonly [string, number])[] = [
  ['', 35], ['en-US', 35], ['fr-CA', 10], ['es-ES', 10], ['ko', 5], ['ja', 5],
];
